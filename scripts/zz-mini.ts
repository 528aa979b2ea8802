import { makeGrant, registrationFor, startControlPlane, startProcessorProcess } from "./lib/local-stack.ts";
import { measure } from "./lib/measure.ts";

const admin = makeGrant("p");
const D = `sha256:${"0".repeat(64)}`;
const processor = await startProcessorProcess({
  toolRef: "llm/litellm@1",
  port: 18811,
  env: { IMAGE_DIGEST: D, ENV_FINGERPRINT: "cpu:1;memory:2Gi", ARTIFACTS_ROOT: "/tmp/probe-art" },
});
const [cp, floor] = await Promise.all([
  startControlPlane({
    port: 18812,
    inspectorPort: 18813,
    vars: { AUTH_TOKENS: JSON.stringify([admin.grant]), LOG_LEVEL: "warn" },
  }),
  startControlPlane({
    port: 18822,
    inspectorPort: 18823,
    config: "scripts/bench/floor/wrangler.toml",
    vars: { PROCESSOR_URL: processor.url, PROCESSOR_TOKEN: processor.token },
  }),
]);
const headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
await fetch(`${cp.url}/v1/endpoints/llm/litellm@1`, {
  method: "PUT",
  headers,
  body: JSON.stringify(registrationFor(processor, D)),
});
let n = 0;
const theory = async () => {
  const r = await fetch(`${cp.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Prefer: "wait=30" },
    body: JSON.stringify({
      ref: "llm/litellm@1",
      run_id: `m${Date.now()}-${n++}`,
      mode: "mock",
      inputs: { prompt: "b", max_tokens: 5 },
      target: "modal",
      artifact_scope: "local",
    }),
  });
  const j = (await r.json()) as { state: string };
  if (j.state !== "succeeded") throw new Error(JSON.stringify(j));
};
const fl = async () => {
  const id = `f${n++}`;
  const r = await fetch(`${floor.url}/run`, {
    method: "POST",
    body: JSON.stringify({
      run_id: id,
      mode: "mock",
      inputs: { prompt: "b", max_tokens: 5 },
      write_prefix: `/artifacts/outputs/llm.litellm.1/${id}/`,
      settle: "fast",
    }),
  });
  await r.text();
};
await measure(4, 20, theory);
await measure(4, 20, fl);
const rows: string[] = [];
for (let r = 0; r < 3; r++) {
  const a = await measure(1, 30, fl);
  const b = await measure(1, 30, theory);
  rows.push(`floor ${a.p50_ms} theory ${b.p50_ms} ratio ${(b.p50_ms / a.p50_ms).toFixed(2)}`);
}
const c64f = await measure(64, 384, fl);
const c64t = await measure(64, 384, theory);
console.log(rows.join("\n"));
console.log(
  `c64 floor ${c64f.runs_per_s} theory ${c64t.runs_per_s} ratio ${(c64t.runs_per_s / c64f.runs_per_s).toFixed(2)}`,
);
await Promise.all([cp.stop(), floor.stop()]);
await processor.stop();
