// npm run bench:control-plane — a local control plane (wrangler dev) and a processor: p50/p99 of a
// mock run through the control plane and directly against the processor, their ratio, and runs/s
// through the control plane at 1, 16 and 64 concurrent clients. Bounded loops; JSON lines on stdout.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultWritePrefix } from "../src/core/paths.ts";
import { makeToken, startControlPlane, startProcessorProcess } from "./lib/local-stack.ts";
import { measure, print, wsRun } from "./lib/measure.ts";

const REF = "llm/litellm@1";
const DIGEST = `sha256:${"0".repeat(64)}`;
const LATENCY_RUNS = 100;
const THROUGHPUT_RUNS: Record<number, number> = { 1: 100, 16: 320, 64: 640 };

const artifactsRoot = await mkdtemp(join(tmpdir(), "theory-bench-"));
const { token, authTokens } = makeToken("bench");
const processor = await startProcessorProcess({
  toolRef: REF,
  port: 18711,
  env: { IMAGE_DIGEST: DIGEST, ENV_FINGERPRINT: "cpu:1;memory:2Gi", ARTIFACTS_ROOT: artifactsRoot },
});
const controlPlane = await startControlPlane({
  port: 18790,
  vars: { AUTH_TOKENS: authTokens, LOG_LEVEL: "warn" },
});
const headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };

try {
  const registered = await fetch(`${controlPlane.url}/v1/endpoints/${REF}`, {
    method: "PUT",
    headers,
    body: JSON.stringify({ url: processor.url, image_digest: DIGEST }),
  });
  if (!registered.ok) throw new Error(`endpoint registration failed: ${registered.status}`);
  const inputs = { prompt: "bench", max_tokens: 5 };
  let counter = 0;
  const throughControlPlane = async () => {
    const body = JSON.stringify({
      ref: REF,
      run_id: `cp-${Date.now()}-${counter++}`,
      mode: "mock",
      inputs,
      target: "modal",
      artifact_scope: "local",
    });
    const response = await fetch(`${controlPlane.url}/v1/runs`, {
      method: "POST",
      headers: { ...headers, Prefer: "wait=30" },
      body,
    });
    const resource = (await response.json()) as { state?: string };
    if (response.status !== 200 || resource.state !== "succeeded")
      throw new Error(`run did not succeed: ${response.status} ${JSON.stringify(resource)}`);
  };
  const direct = async (i: number) => {
    const runId = `direct-${i}`;
    await wsRun(
      `${processor.url.replace("http", "ws")}/run`,
      JSON.stringify({
        run_id: runId,
        mode: "mock",
        inputs,
        write_prefix: defaultWritePrefix(REF, runId),
        settle: "fast",
      }),
    );
  };
  await measure(4, 20, throughControlPlane); // warm-up: first requests compile and create objects
  const viaCp = await measure(1, LATENCY_RUNS, throughControlPlane);
  const viaDirect = await measure(1, LATENCY_RUNS, direct);
  print({ bench: "latency.control_plane", ...viaCp });
  print({ bench: "latency.direct", ...viaDirect });
  print({
    bench: "latency.ratio",
    p50: Math.round((viaCp.p50_ms / viaDirect.p50_ms) * 100) / 100,
    p99: Math.round((viaCp.p99_ms / viaDirect.p99_ms) * 100) / 100,
  });
  for (const concurrency of [1, 16, 64]) {
    print({
      bench: "throughput.control_plane",
      concurrency,
      ...(await measure(concurrency, THROUGHPUT_RUNS[concurrency] as number, throughControlPlane)),
    });
  }
} finally {
  await controlPlane.stop();
  await processor.stop();
  await rm(artifactsRoot, { recursive: true, force: true });
}
