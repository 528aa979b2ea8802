// Starts pieces of the stack as separate local processes, for benchmarks and end-to-end runs:
// the processor from source, and the control plane under `wrangler dev`.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SCOPES } from "../../src/contract/api.ts";
import type { BackoffPolicy } from "../../src/core/backoff.ts";
import { waitStartedHealthy } from "../../src/core/health.ts";
import { newProcessorToken, PROCESSOR_TOKEN_ENV } from "../../src/core/processor-auth.ts";

/** A port nothing listens on right now, for a process or a host-network container to listen on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

const root = join(import.meta.dirname, "..", "..");

export interface LocalProcess {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** A local process starts in seconds, but wrangler dev compiles the Worker first (slow on a busy machine). */
const LOCAL_PROCESS_HEALTH: BackoffPolicy = {
  initialMs: 50,
  maxMs: 500,
  factor: 2,
  jitter: 0.2,
  totalMs: 60_000,
};

/** Healthy, or ERR_HEALTH (the child is killed) when it exits or never answers within the budget. */
async function waitHealthy(url: string, child: ChildProcess, what: string): Promise<void> {
  try {
    await waitStartedHealthy(url, what, {
      policy: LOCAL_PROCESS_HEALTH,
      alive: () => child.exitCode === null,
    });
  } catch (error) {
    child.kill();
    throw error;
  }
}

const stopper =
  (child: ChildProcess, cleanup: () => Promise<void> = async () => {}) =>
  async () => {
    // A child killed by a signal has no exit code, only a signal code: it has exited all the same.
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    await cleanup();
  };

/** A processor started here, with the token that admits a run on it (src/core/processor-auth.ts). */
export interface ProcessorProcess extends LocalProcess {
  token: string;
}

/** The `PUT /v1/endpoints/{ref}` body that registers a processor started here (at `url`, its own by default). */
export function registrationFor(processor: ProcessorProcess, imageDigest: string, url = processor.url) {
  return { url, image_digest: imageDigest, processor_token: processor.token };
}

/** The processor from source (`node processor/main.ts`), serving one tool on loopback, with a fresh token. */
export async function startProcessorProcess(options: {
  toolRef: string;
  port: number;
  env: Record<string, string>;
}): Promise<ProcessorProcess> {
  const token = newProcessorToken();
  const child = spawn(process.execPath, [join(root, "processor", "main.ts")], {
    env: {
      ...process.env,
      TOOL_REF: options.toolRef,
      PORT: String(options.port),
      HOST: "127.0.0.1",
      [PROCESSOR_TOKEN_ENV]: token,
      ...options.env,
    },
    stdio: ["ignore", "ignore", "ignore"],
  });
  const url = `http://127.0.0.1:${options.port}`;
  await waitHealthy(url, child, `processor ${options.toolRef}`);
  return { url, token, child, stop: stopper(child) };
}

/** A fresh bearer token and its AUTH_TOKENS grant (every scope unless given; bound to an agent if named). */
export function makeGrant(name: string, scopes: readonly string[] = SCOPES, agent?: string) {
  const token = randomBytes(24).toString("base64url");
  const sha256 = createHash("sha256").update(token).digest("hex");
  return { token, grant: { name, sha256, scopes: [...scopes], ...(agent ? { agent } : {}) } };
}

/** A fresh bearer token with every scope, and the AUTH_TOKENS value that admits it. */
export function makeToken(name = "local"): { token: string; authTokens: string } {
  const { token, grant } = makeGrant(name);
  return { token, authTokens: JSON.stringify([grant]) };
}

const wranglerBin = join(root, "node_modules", "wrangler", "bin", "wrangler.js");

/**
 * The run index's schema (migrations/) into the local D1 under `stateDir`, as `wrangler dev
 * --persist-to stateDir` then finds it; already applied migrations are skipped.
 */
export async function applyRunIndexMigrations(stateDir: string): Promise<void> {
  const child = spawn(
    process.execPath,
    [wranglerBin, "d1", "migrations", "apply", "RUN_INDEX", "--local", "--persist-to", stateDir],
    {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0) throw new Error(`wrangler d1 migrations apply failed (${code}): ${stderr.slice(-2000)}`);
}

/** The control plane under `wrangler dev` on loopback, with its own state folder and settings. */
export async function startControlPlane(options: {
  port: number;
  vars: Record<string, string>;
  /** Extra process environment, e.g. NODE_EXTRA_CA_CERTS for a local CA. */
  env?: Record<string, string>;
  /** Durable state to keep across a restart; a fresh folder (removed on stop) when absent. */
  stateDir?: string;
  /** Another Worker's wrangler config (the benchmark's floor); the control plane's by default. */
  config?: string;
  /** The devtools port; wrangler's default (9229) is left to interactive use. */
  inspectorPort?: number;
}): Promise<LocalProcess> {
  const dir = await mkdtemp(join(tmpdir(), "theory-cp-"));
  const envFile = join(dir, ".env");
  await writeFile(
    envFile,
    Object.entries(options.vars)
      .map(([key, value]) => `${key}='${value}'`)
      .join("\n"),
  );
  const stateDir = options.stateDir ?? join(dir, "state");
  // The control plane's own config has the run index (D1); another Worker's (the floor's) has none.
  if (!options.config) await applyRunIndexMigrations(stateDir);
  // Wrangler's own launcher would pick whatever `node` is first on PATH; run it on this Node (24).
  const child = spawn(
    process.execPath,
    [
      wranglerBin,
      "dev",
      ...(options.config ? ["--config", options.config] : []),
      ...(options.inspectorPort ? ["--inspector-port", String(options.inspectorPort)] : []),
      "--ip",
      "127.0.0.1",
      "--port",
      String(options.port),
      "--env-file",
      envFile,
      "--persist-to",
      stateDir,
      "--show-interactive-dev-session=false",
      "--log-level",
      "error",
    ],
    {
      cwd: root,
      env: { ...process.env, ...options.env, WRANGLER_SEND_METRICS: "false" },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  const url = `http://127.0.0.1:${options.port}`;
  await waitHealthy(url, child, "wrangler dev");
  return { url, child, stop: stopper(child, () => rm(dir, { recursive: true, force: true })) };
}
