// npm run bench:processor — runs/s and p50/p99 latency of echo over WS and HTTP at 1 and 32
// concurrent clients, and Token frames/s for a 10k-token mock stream. The processor runs as its own
// process on loopback; every loop is bounded by a run count. Results go to stdout as JSON lines.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultWritePrefix } from "../src/core/paths.ts";
import { processorAuthHeaders } from "../src/core/processor-auth.ts";
import { echoInputs, llmInputs } from "./lib/inputs.ts";
import { startProcessorProcess } from "./lib/local-stack.ts";
import { measure, print, wsRun } from "./lib/measure.ts";

const RUNS: Record<number, number> = { 1: 300, 32: 2000 };

const payload = (ref: string, runId: string, inputs: object) =>
  JSON.stringify({
    run_id: runId,
    mode: "mock",
    inputs,
    write_prefix: defaultWritePrefix(ref, runId),
    settle: "fast",
  });

async function httpRun(url: string, token: string, body: string): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...processorAuthHeaders(token) },
    body,
  });
  const text = await response.text();
  if (!text.includes('"status":"success"')) throw new Error(`run did not succeed: ${text}`);
}

const artifactsRoot = await mkdtemp(join(tmpdir(), "theory-bench-"));
const env = {
  IMAGE_DIGEST: `sha256:${"0".repeat(64)}`,
  ENV_FINGERPRINT: "cpu:1;memory:2Gi",
  ARTIFACTS_ROOT: artifactsRoot,
};
const echo = await startProcessorProcess({ toolRef: "echo/text@1", port: 18701, env });
const llm = await startProcessorProcess({ toolRef: "llm/litellm@1", port: 18702, env });
try {
  const echoBody = (i: number) => payload("echo/text@1", `bench-${i}`, echoInputs(`hello ${i}`));
  for (const concurrency of [1, 32]) {
    const runs = RUNS[concurrency] as number;
    print({
      bench: "echo.ws",
      concurrency,
      ...(await measure(concurrency, runs, (i) =>
        wsRun(`${echo.url.replace("http", "ws")}/run`, echo.token, echoBody(i)),
      )),
    });
    print({
      bench: "echo.http",
      concurrency,
      ...(await measure(concurrency, runs, (i) => httpRun(`${echo.url}/run`, echo.token, echoBody(i)))),
    });
  }
  for (let round = 0; round < 3; round++) {
    let tokens = 0;
    const t0 = performance.now();
    await wsRun(
      `${llm.url.replace("http", "ws")}/run`,
      llm.token,
      payload("llm/litellm@1", `tokens-${round}`, llmInputs("bench", { max_tokens: 10_000 })),
      () => tokens++,
    );
    const ms = performance.now() - t0;
    if (tokens !== 10_000) throw new Error(`expected 10000 tokens, got ${tokens}`);
    print({
      bench: "litellm.mock.tokens",
      round,
      tokens,
      ms: Math.round(ms),
      tokens_per_s: Math.round(tokens / (ms / 1000)),
    });
  }
} finally {
  await echo.stop();
  await llm.stop();
  await rm(artifactsRoot, { recursive: true, force: true });
}
