import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, mkdir, open, realpath } from "node:fs/promises";
import { join, posix, sep } from "node:path";
import { EtagSchema, type OutputIndex } from "../src/contract/envelope.ts";
import { ARTIFACTS_ROOT, OUTPUT_INDEX } from "../src/contract/primitives.ts";
import { canonicalJson } from "../src/core/canonical.ts";
import type { WrittenOutput } from "../src/core/envelope.ts";
import { TheoryError } from "../src/core/errors.ts";
import { compareCodeUnits } from "../src/core/outputs.ts";

/** Where artifacts go: a directory on disk (local scope) or presigned URLs (world scope). */
export interface ArtifactSink {
  /** Stores the bytes and returns their ETag (MD5 hex for a single PUT, as S3 computes it). */
  put(relativePath: string, bytes: Uint8Array): Promise<string>;
}

const outsidePrefix = (what: string) =>
  new TheoryError("ERR_INPUTS", `refusing to write outside write_prefix: ${what}`);

function isInside(parent: string, child: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/**
 * Creates `segments` below `base` one at a time, so a planted symlink is seen before anything is
 * created through it; a symlink is followed only when its real target stays inside `bound`.
 */
async function ensureDirectoryInside(
  base: string,
  segments: readonly string[],
  bound: string,
): Promise<string> {
  let current = base;
  for (const segment of segments) {
    const next = join(current, segment);
    const stat = await lstat(next).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (stat === undefined) {
      await mkdir(next).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      });
    } else if (stat.isSymbolicLink()) {
      if (!isInside(bound, await realpath(next))) throw outsidePrefix(`${segment} is a symlink leading out`);
    } else if (!stat.isDirectory()) {
      throw outsidePrefix(`${segment} is not a directory`);
    }
    current = next;
  }
  const real = await realpath(current);
  if (!isInside(bound, real)) throw outsidePrefix("the resolved directory");
  return real;
}

export function md5Hex(bytes: Uint8Array): string {
  return createHash("md5").update(bytes).digest("hex");
}

/** Local scope: files under `artifactsRoot` + (write_prefix minus /artifacts/), real paths checked. */
export function localSink(artifactsRoot: string, writePrefix: string): ArtifactSink {
  const prefixSegments = writePrefix.slice(ARTIFACTS_ROOT.length).split("/").filter(Boolean);
  let prefixDir: Promise<string> | undefined;
  const resolvePrefix = async () => {
    await mkdir(artifactsRoot, { recursive: true });
    const root = await realpath(artifactsRoot);
    return ensureDirectoryInside(root, prefixSegments, root);
  };
  return {
    async put(relativePath, bytes) {
      prefixDir ??= resolvePrefix();
      const prefix = await prefixDir;
      const parts = relativePath.split(posix.sep);
      const file = parts.pop() as string;
      const directory = await ensureDirectoryInside(prefix, parts, prefix);
      // O_NOFOLLOW: a symlink planted at the file name itself is refused, never written through.
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
      const handle = await open(join(directory, file), flags, 0o644).catch((error: NodeJS.ErrnoException) => {
        throw error.code === "ELOOP" ? outsidePrefix(`${relativePath} is a symlink`) : error;
      });
      try {
        await handle.writeFile(bytes);
      } finally {
        await handle.close();
      }
      return md5Hex(bytes);
    },
  };
}

/** World scope: one PUT per artifact to the presigned URL the orchestrator gave for it. */
export function worldSink(
  urls: Readonly<Record<string, string>>,
  fetcher: typeof fetch = fetch,
): ArtifactSink {
  return {
    async put(relativePath, bytes) {
      const url = urls[relativePath];
      if (url === undefined) throw new TheoryError("ERR_INPUTS", `no presigned URL for ${relativePath}`);
      const response = await fetcher(url, { method: "PUT", body: bytes }).catch(() => {
        throw new TheoryError("ERR_INTERNAL", `storing ${relativePath} failed: store not reachable`);
      });
      await response.body?.cancel();
      if (!response.ok)
        throw new TheoryError("ERR_INTERNAL", `storing ${relativePath} failed: HTTP ${response.status}`);
      const etag = (response.headers.get("etag") ?? "").replaceAll('"', "");
      if (!EtagSchema.safeParse(etag).success) {
        throw new TheoryError(
          "ERR_INTERNAL",
          `storing ${relativePath} failed: the store returned no usable ETag`,
        );
      }
      return etag;
    },
  };
}

const encoder = new TextEncoder();

/**
 * Writes every file (declared outputs only), then the `outputs.json` index. All or nothing from
 * the envelope's point of view: any failure throws, and no success envelope is built.
 */
export async function writeArtifacts(args: {
  runId: string;
  files: Readonly<Record<string, string | Uint8Array>>;
  declared: readonly string[];
  sink: ArtifactSink;
}): Promise<WrittenOutput[]> {
  const undeclared = Object.keys(args.files).filter((path) => !args.declared.includes(path));
  if (undeclared.length > 0)
    throw new TheoryError("ERR_INTERNAL", `tool wrote undeclared outputs: ${undeclared.join(", ")}`);
  const index: OutputIndex = { run_id: args.runId, outputs: [] };
  const written: WrittenOutput[] = [];
  // Canonical order, so the index's bytes never depend on how the tool built its map.
  for (const path of Object.keys(args.files).sort(compareCodeUnits)) {
    const content = args.files[path] as string | Uint8Array;
    const bytes = typeof content === "string" ? encoder.encode(content) : content;
    const etag = await args.sink.put(path, bytes);
    written.push({ path, etag });
    index.outputs.push({ path, size: bytes.byteLength, etag });
  }
  await args.sink.put(OUTPUT_INDEX, encoder.encode(canonicalJson(index)));
  return written;
}
