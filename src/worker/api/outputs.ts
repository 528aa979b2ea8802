import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { isTerminal, type Receipt } from "../../contract/api.ts";
import type { Envelope } from "../../contract/envelope.ts";
import { OUTPUT_INDEX } from "../../contract/primitives.ts";
import { getOutputRoute } from "../../contract/routes.ts";
import { TheoryError } from "../../core/errors.ts";
import { runSession } from "../objects.ts";
import type { ByteRange } from "../storage/index.ts";
import type { AppEnv } from "./context.ts";
import { sendError } from "./errors.ts";
import { mount } from "./mount.ts";

const WORLD = "world://";

/** By extension, for outputs stored without a useful type (a processor's presigned PUT sends none). */
const CONTENT_TYPES: Record<string, string> = {
  json: "application/json",
  ndjson: "application/x-ndjson",
  txt: "text/plain; charset=utf-8",
  md: "text/markdown; charset=utf-8",
  csv: "text/csv; charset=utf-8",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  pdf: "application/pdf",
  wav: "audio/wav",
  mp3: "audio/mpeg",
};
const GENERIC_TYPES = new Set(["application/octet-stream", "binary/octet-stream"]);

function contentTypeOf(path: string, stored: string | undefined): string {
  if (stored && !GENERIC_TYPES.has(stored.split(";")[0]?.trim().toLowerCase() ?? "")) return stored;
  return CONTENT_TYPES[path.split(".").at(-1)?.toLowerCase() ?? ""] ?? "application/octet-stream";
}

/** If-None-Match: a list of ETags (weak ones compare by their value) or `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch
    .split(",")
    .map((candidate) => candidate.trim().replace(/^W\//, ""))
    .some((candidate) => candidate === "*" || candidate === etag);
}

/**
 * One `bytes=` range against an object of `size` bytes: the range, "unsatisfiable", or undefined
 * (no Range, several ranges or one we do not read: the whole object is served, as HTTP allows).
 */
function byteRange(header: string | undefined, size: number): ByteRange | "unsatisfiable" | undefined {
  const found = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? "");
  if (!found || (found[1] === "" && found[2] === "")) return undefined;
  const [, first, last] = found as unknown as [string, string, string];
  if (first === "") {
    const suffix = Math.min(Number(last), size);
    return suffix === 0 ? "unsatisfiable" : { offset: size - suffix, length: suffix };
  }
  const offset = Number(first);
  if (offset >= size) return "unsatisfiable";
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  return end < offset ? undefined : { offset, length: end - offset + 1 };
}

/** Why `path` of this run cannot be served, or its world:// URI (which is its storage key after the scheme). */
async function outputUri(c: Context<AppEnv>, runId: string, path: string): Promise<string | TheoryError> {
  const notFound = (message: string) => new TheoryError("ERR_NOT_FOUND", message);
  const session = runSession(c.env, runId);
  const resource = await session.resource();
  if (!resource) return notFound(`no run ${runId}`);
  const envelope: Envelope | null = resource.envelope;
  if (!isTerminal(resource.state) || !envelope)
    return notFound(`run ${runId} has not settled: its outputs are known once it has`);
  if (envelope.status === "error")
    return notFound(`run ${runId} ended with ${envelope.error.code}: it has no outputs`);
  if (!envelope.index_path.endsWith(`/${OUTPUT_INDEX}`))
    return notFound(`run ${runId} has no output ${path}`);
  const prefix = envelope.index_path.slice(0, -OUTPUT_INDEX.length);
  const uri = [envelope.index_path, ...envelope.outputs.map((output) => output.path)].find(
    (candidate) => candidate === prefix + path,
  );
  if (!uri) return notFound(`run ${runId} has no output ${path}`);
  if (uri.startsWith(WORLD)) return uri;
  const receipt = await session.settled("receipt");
  const agent = receipt ? (JSON.parse(receipt) as Receipt).agent : undefined;
  const machine = agent ? `agent ${agent}` : `target ${resource.target}`;
  return notFound(
    `run ${runId} kept its outputs in local scope: ${path} is ${uri} on the machine that ran it ` +
      `(${machine}); only world-scope outputs are served here`,
  );
}

/** `GET /v1/runs/{id}/outputs/{path}` (docs/api.md#outputs): a world-scope output, streamed from storage. */
export function mountOutputs(app: OpenAPIHono<AppEnv>): void {
  mount(app, getOutputRoute, async (c) => {
    const { id: runId, path } = c.req.valid("param");
    const uri = await outputUri(c, runId, path);
    if (uri instanceof TheoryError) return sendError(c, uri, runId);
    const { store } = c.var.runtime;
    const key = uri.slice(WORLD.length);
    const gone = () =>
      sendError(
        c,
        new TheoryError("ERR_NOT_FOUND", `output ${path} of run ${runId} is not in storage`),
        runId,
      );
    const head = await store.head(key);
    if (!head) return gone();
    const etag = `"${head.etag}"`;
    if (matches(c.req.header("If-None-Match"), etag)) return c.body(null, 304, { ETag: etag });
    const range = byteRange(c.req.header("Range"), head.size);
    if (range === "unsatisfiable") {
      const refused = sendError(
        c,
        new TheoryError("ERR_INPUTS", `range not satisfiable: ${path} has ${head.size} bytes`, {
          status: 416,
        }),
        runId,
      );
      refused.headers.set("Content-Range", `bytes */${head.size}`);
      return refused;
    }
    const reader = await store.read(key, range);
    if (!reader) return gone();
    const length = range ? range.length : reader.size;
    // A stream of known length: the answer carries Content-Length, not chunks.
    const { readable, writable } = new FixedLengthStream(length);
    void reader.body.pipeTo(writable).catch(() => undefined);
    const headers: Record<string, string> = {
      ETag: `"${reader.etag}"`,
      "Content-Type": contentTypeOf(path, reader.contentType),
      "Content-Length": String(length),
      "Accept-Ranges": "bytes",
      "X-Content-Type-Options": "nosniff",
    };
    if (!range) return c.body(readable, 200, headers);
    const last = range.offset + range.length - 1;
    return c.body(readable, 206, {
      ...headers,
      "Content-Range": `bytes ${range.offset}-${last}/${reader.size}`,
    });
  });
}
