import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import {
  freePort,
  type LocalProcess,
  makeToken,
  type ProcessorProcess,
  registrationFor,
  startControlPlane,
  startProcessorProcess,
} from "../../scripts/lib/local-stack.ts";
import { directEnvelope } from "../support/direct.ts";
import { makeTestCa, startTlsTerminator } from "../support/tls.ts";

const DIGEST = `sha256:${"0".repeat(64)}`;
let dir = "";
let processor: ProcessorProcess;
let controlPlane: LocalProcess;
let trusted: Awaited<ReturnType<typeof startTlsTerminator>>;
let untrusted: Awaited<ReturnType<typeof startTlsTerminator>>;
let headers: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-e2e-tls-"));
  const ca = makeTestCa(dir);
  processor = await startProcessorProcess({
    toolRef: "llm/litellm@1",
    port: await freePort(),
    env: {
      IMAGE_DIGEST: DIGEST,
      ENV_FINGERPRINT: "cpu:1;memory:2Gi",
      ARTIFACTS_ROOT: join(dir, "artifacts"),
    },
  });
  const target = Number(new URL(processor.url).port);
  trusted = await startTlsTerminator({ targetPort: target, key: ca.key, cert: ca.cert });
  untrusted = await startTlsTerminator({ targetPort: target, key: ca.untrustedKey, cert: ca.untrustedCert });
  const { token, authTokens } = makeToken("e2e");
  headers = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
  // https+loopback: the TLS endpoints here are on loopback (production's "https" refuses loopback
  // outright); workerd trusts the local CA (ENVIRONMENT.md item 3).
  controlPlane = await startControlPlane({
    port: await freePort(),
    vars: {
      AUTH_TOKENS: authTokens,
      ENDPOINT_POLICY: "https+loopback",
      LOG_LEVEL: "warn",
      HEALTH_BUDGET_MS: "1000",
    },
    env: { NODE_EXTRA_CA_CERTS: join(dir, "ca.pem") },
  });
});

afterAll(async () => {
  await controlPlane?.stop();
  await processor?.stop();
  await trusted?.close();
  await untrusted?.close();
  await rm(dir, { recursive: true, force: true });
});

async function run(endpoint: string, runId: string) {
  const put = await fetch(`${controlPlane.url}/v1/endpoints/llm/litellm@1`, {
    method: "PUT",
    headers,
    body: JSON.stringify(registrationFor(processor, DIGEST, endpoint)),
  });
  expect(put.status).toBe(200);
  const body = {
    ref: "llm/litellm@1",
    run_id: runId,
    mode: "mock",
    inputs: llmInputs("hi", { max_tokens: 5 }),
    target: "modal",
    artifact_scope: "local",
  };
  const response = await fetch(`${controlPlane.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Prefer: "wait=20" },
    body: JSON.stringify(body),
  });
  return (await response.json()) as any;
}

describe("the control plane under wrangler dev, dialing wss:// like a Modal endpoint", () => {
  it("refuses plain http off loopback", async () => {
    const put = await fetch(`${controlPlane.url}/v1/endpoints/llm/litellm@1`, {
      method: "PUT",
      headers,
      body: JSON.stringify(registrationFor(processor, DIGEST, "http://203.0.113.7:8000")),
    });
    expect(put.status).toBe(422);
  });

  it("runs over wss with a certificate from the trusted CA; the envelope is the processor's own bytes", async () => {
    const resource = await run(trusted.url, "tls-1");
    expect(resource).toMatchObject({ state: "succeeded", envelope: { status: "success", run_id: "tls-1" } });
    const persisted = await (await fetch(`${controlPlane.url}/v1/runs/tls-1/envelope`, { headers })).text();
    expect(persisted).toBe(
      await directEnvelope(
        processor.url,
        "llm/litellm@1",
        "tls-1",
        llmInputs("hi", { max_tokens: 5 }),
        processor.token,
      ),
    );
  });

  it("a certificate nobody trusts -> ERR_ENDPOINT_MISSING, no session", async () => {
    const resource = await run(untrusted.url, "tls-2");
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_ENDPOINT_MISSING" } },
    });
  });
});
