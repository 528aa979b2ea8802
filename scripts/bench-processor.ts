// npm run bench:processor — runs/s and p50/p99 latency of echo over WS and HTTP at 1 and 32
// concurrent clients, and Token frames/s for a 10k-token mock stream. The processor runs as its own
// process on loopback; every loop is bounded by a run count. Results go to stdout as JSON lines.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { RUN_SUBPROTOCOL } from "../src/contract/frames.ts";
import { defaultWritePrefix } from "../src/core/paths.ts";

const DIGEST = `sha256:${"0".repeat(64)}`;
const RUNS: Record<number, number> = { 1: 300, 32: 2000 };

async function startProcessor(toolRef: string, port: number, artifactsRoot: string) {
  const child = spawn(process.execPath, [join(import.meta.dirname, "..", "processor", "main.ts")], {
    env: {
      ...process.env,
      TOOL_REF: toolRef,
      PORT: String(port),
      HOST: "127.0.0.1",
      IMAGE_DIGEST: DIGEST,
      ENV_FINGERPRINT: "cpu:1;memory:2Gi",
      ARTIFACTS_ROOT: artifactsRoot,
    },
    stdio: ["ignore", "ignore", "ignore"],
  });
  for (let attempt = 0; attempt < 100; attempt++) {
    if (
      await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill();
  throw new Error(`processor ${toolRef} did not become healthy`);
}

const payload = (ref: string, runId: string, inputs: object) =>
  JSON.stringify({
    run_id: runId,
    mode: "mock",
    inputs,
    write_prefix: defaultWritePrefix(ref, runId),
    settle: "fast",
  });

function wsRun(url: string, body: string, onToken?: () => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, [RUN_SUBPROTOCOL]);
    let settled = false;
    socket.on("open", () => socket.send(`{"kind":"RunOpen","content":{"role":"client","payload":${body}}}`));
    socket.on("message", (data) => {
      const text = data.toString();
      if (text.includes('"kind":"Token"')) onToken?.();
      else if (text.includes('"kind":"RunResult"')) settled = text.includes('"status":"success"');
    });
    socket.on("close", () => (settled ? resolve() : reject(new Error("run did not succeed"))));
    socket.on("error", reject);
  });
}

async function httpRun(url: string, body: string): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  const text = await response.text();
  if (!text.includes('"status":"success"')) throw new Error(`run did not succeed: ${text}`);
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const round = (n: number) => Math.round(n * 100) / 100;

async function measure(name: string, concurrency: number, runs: number, once: (i: number) => Promise<void>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < runs) {
        const i = next++;
        const t0 = performance.now();
        await once(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({ bench: name, concurrency, runs, runs_per_s: round(runs / seconds), p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)) })}\n`,
  );
}

const artifactsRoot = await mkdtemp(join(tmpdir(), "theory-bench-"));
const echo = await startProcessor("echo/text@1", 18701, artifactsRoot);
const llm = await startProcessor("llm/litellm@1", 18702, artifactsRoot);
try {
  const echoBody = (i: number) => payload("echo/text@1", `bench-${i}`, { params: { text: `hello ${i}` } });
  for (const concurrency of [1, 32]) {
    const runs = RUNS[concurrency] as number;
    await measure("echo.ws", concurrency, runs, (i) => wsRun("ws://127.0.0.1:18701/run", echoBody(i)));
    await measure("echo.http", concurrency, runs, (i) => httpRun("http://127.0.0.1:18701/run", echoBody(i)));
  }
  for (let round_ = 0; round_ < 3; round_++) {
    let tokens = 0;
    const t0 = performance.now();
    await wsRun(
      "ws://127.0.0.1:18702/run",
      payload("llm/litellm@1", `tokens-${round_}`, { prompt: "bench", max_tokens: 10_000 }),
      () => tokens++,
    );
    const ms = performance.now() - t0;
    if (tokens !== 10_000) throw new Error(`expected 10000 tokens, got ${tokens}`);
    process.stdout.write(
      `${JSON.stringify({ bench: "litellm.mock.tokens", round: round_, tokens, ms: round(ms), tokens_per_s: Math.round(tokens / (ms / 1000)) })}\n`,
    );
  }
} finally {
  echo.kill();
  llm.kill();
  await rm(artifactsRoot, { recursive: true, force: true });
}
