import { execFile } from "node:child_process";
import { copyFile, cp, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { TheoryError } from "../../src/core/errors.ts";

const exec = promisify(execFile);
const ROOT = join(import.meta.dirname, "..", "..");
/** The Dockerfile's name inside the staged context (it lives outside dist/processor in the repo). */
const DOCKERFILE = ".dockerfile.processor";

export interface ProcessorContext {
  dir: string;
  entries: string[];
  dockerfile: string;
  bundleBytes: number | undefined;
  dispose(): Promise<void>;
}

/**
 * Bundles the processor with scripts/build-processor.ts (the one esbuild config; run as its own
 * process because it prints its summary on stdout) and stages dist/processor plus
 * processor/Dockerfile in a temporary folder, as `docker build -f processor/Dockerfile dist/processor` would send.
 */
export async function prepareProcessorContext(signal: AbortSignal): Promise<ProcessorContext> {
  let bundleBytes: number | undefined;
  try {
    const { stdout } = await exec(process.execPath, [join(ROOT, "scripts", "build-processor.ts")], {
      cwd: ROOT,
      signal,
      maxBuffer: 16 * 1024 * 1024,
    });
    bundleBytes = (JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as { bundle_bytes?: number })
      .bundle_bytes;
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim();
    throw new TheoryError(
      "ERR_INTERNAL",
      `bundling the processor failed: ${stderr.split("\n").slice(-5).join(" | ")}`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "theory-build-"));
  try {
    await cp(join(ROOT, "dist", "processor"), dir, { recursive: true });
    await copyFile(join(ROOT, "processor", "Dockerfile"), join(dir, DOCKERFILE));
    return {
      dir,
      entries: await readdir(dir),
      dockerfile: DOCKERFILE,
      bundleBytes,
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
