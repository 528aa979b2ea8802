import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { ControlPlaneClient } from "../../src/client/control-plane.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { runOutputPaths } from "../../src/core/paths.ts";

export interface DownloadedRun {
  run_id: string;
  dir: string;
  /** Below `dir`: the index first, then each output, with its size. */
  files: { path: string; bytes: number }[];
}

/**
 * Writes a settled run's world-scope outputs and its index (outputs.json) below `dir`, each at its
 * path under the run's prefix, each checked against the ETag the run's proof holds. Files appear
 * whole or not at all (written beside, then renamed). A run whose outputs are local-scope is the
 * control plane's ERR_NOT_FOUND naming where they live; nothing is written then.
 */
export async function downloadRun(
  client: ControlPlaneClient,
  runId: string,
  dir: string,
): Promise<DownloadedRun> {
  const { envelope } = await client.getEnvelope(runId);
  if (envelope.status === "error")
    throw new TheoryError(
      "ERR_NOT_FOUND",
      `run ${runId} ended with ${envelope.error.code}: it has no outputs`,
    );
  const paths = runOutputPaths(envelope);
  const proof = envelope.meta.proof.etag_map;
  const files: DownloadedRun["files"] = [];
  for (const path of paths) {
    const output = await client.getOutput(runId, path);
    const expected = proof[path];
    if (expected !== undefined && output.etag !== expected) {
      await output.body.cancel();
      throw new TheoryError("ERR_INTERNAL", `output ${path} of run ${runId} does not match the run's proof`);
    }
    files.push({ path, bytes: await writeWhole(join(dir, path), output.body, path) });
  }
  return { run_id: runId, dir, files };
}

/** The stream into `file` through a temporary name beside it; its size in bytes. */
async function writeWhole(file: string, body: ReadableStream<Uint8Array>, what: string): Promise<number> {
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.partial-${process.pid}`;
  try {
    await pipeline(Readable.fromWeb(body as NodeReadableStream<Uint8Array>), createWriteStream(partial));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    const reason = error instanceof Error ? error.message : String(error);
    throw new TheoryError("ERR_INTERNAL", `downloading ${what} failed: ${reason}`, { cause: error });
  }
  return (await stat(file)).size;
}
