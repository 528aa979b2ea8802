import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envelopeModuloRun } from "../../agent/conformance/envelope.ts";
import { mockTokens } from "../../processor/tools/litellm.ts";
import { echoInputs, llmInputs } from "../../scripts/lib/inputs.ts";
import {
  freePort,
  type LocalProcess,
  makeGrant,
  type ProcessorProcess,
  registrationFor,
  startControlPlane,
  startProcessorProcess,
} from "../../scripts/lib/local-stack.ts";
import { EnvelopeSchema } from "../../src/contract/envelope.ts";
import { sseEventsOf } from "../support/sse.ts";

const DIGEST = `sha256:${"3".repeat(64)}`;
let dir = "";
let processor: ProcessorProcess;
let controlPlane: LocalProcess;
let headers: Record<string, string> = {};
let readOnly: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "theory-conformance-"));
  processor = await startProcessorProcess({
    toolRef: "llm/litellm@1",
    port: await freePort(),
    env: {
      IMAGE_DIGEST: DIGEST,
      ENV_FINGERPRINT: "cpu:1;memory:2Gi",
      ARTIFACTS_ROOT: join(dir, "artifacts"),
    },
  });
  const admin = makeGrant("admin", ["runs:write", "runs:read", "endpoints:write"]);
  const reader = makeGrant("reader", ["runs:read"]);
  headers = { Authorization: `Bearer ${admin.token}`, "Content-Type": "application/json" };
  readOnly = { Authorization: `Bearer ${reader.token}`, "Content-Type": "application/json" };
  controlPlane = await startControlPlane({
    port: await freePort(),
    vars: {
      AUTH_TOKENS: JSON.stringify([admin.grant, reader.grant]),
      LOG_LEVEL: "warn",
      HEALTH_BUDGET_MS: "800",
    },
  });
  await fetch(`${controlPlane.url}/v1/endpoints/llm/litellm@1`, {
    method: "PUT",
    headers,
    body: JSON.stringify(registrationFor(processor, DIGEST)),
  });
});

afterAll(async () => {
  await controlPlane?.stop();
  await processor?.stop();
  await rm(dir, { recursive: true, force: true });
});

const request = (runId: string, extra: object = {}) => ({
  ref: "llm/litellm@1",
  run_id: runId,
  mode: "mock",
  inputs: llmInputs("hi", { max_tokens: 4 }),
  target: "modal",
  artifact_scope: "local",
  ...extra,
});

async function post(body: unknown, init: { headers?: Record<string, string>; raw?: string } = {}) {
  const response = await fetch(`${controlPlane.url}/v1/runs`, {
    method: "POST",
    headers: { ...headers, Prefer: "wait=60", ...init.headers },
    body: init.raw ?? JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe("conformance: the contract against the running Worker (wrangler dev)", () => {
  it.each([
    ["415 for another content type", { headers: { "Content-Type": "text/plain" } }, 415, "ERR_INPUTS"],
    ["400 for malformed JSON", { raw: "{oops" }, 400, "ERR_INPUTS"],
    [
      "422 for a schema violation",
      { raw: JSON.stringify(request("c-422", { mode: "fake" })) },
      422,
      "ERR_INPUTS",
    ],
    ["401 without a valid token", { headers: { Authorization: "Bearer nope" } }, 401, "ERR_AUTH"],
    ["403 without the scope", { reader: true }, 403, "ERR_AUTH"],
  ])("%s", async (_name, init, status, code) => {
    const options = init as { headers?: Record<string, string>; raw?: string; reader?: boolean };
    const { status: got, body } = await post(
      request("c-x"),
      options.reader ? { headers: readOnly } : options,
    );
    expect(got).toBe(status);
    expect(body).toMatchObject({ status: "error", error: { code } });
  });

  it("409 for a run_id reused with a different request", async () => {
    expect((await post(request("c-409"))).status).toBe(200);
    const { status, body } = await post(request("c-409", { inputs: llmInputs("other") }));
    expect(status).toBe(409);
    expect(body.error.code).toBe("ERR_CONFLICT");
  });

  it("a run that streams 10k tokens loses and reorders none (stored events, replayed over SSE)", async () => {
    const { body } = await post(request("c-10k", { inputs: llmInputs("long", { max_tokens: 10_000 }) }));
    expect(body.state).toBe("succeeded");
    const events = await sseEventsOf(await fetch(`${controlPlane.url}/v1/runs/c-10k/events`, { headers }));
    const tokens = events
      .filter((e) => e.event === "Token")
      .map((e) => JSON.parse(e.data as string).content.text);
    expect(tokens).toEqual(mockTokens(10_000));
    expect(events.filter((e) => e.event === "Token").map((e) => Number(e.id))).toEqual(
      Array.from({ length: 10_000 }, (_, i) => i + 2),
    );
    expect(events.at(-1)?.event).toBe("done");
  });

  it("determinism: randomized run_ids and prefixes change only the run_id and the paths", async () => {
    // The conformance kit's comparison (agent/conformance): equal but for the run_id and the paths.
    const normalize = (text: string, runId: string, prefix: string) =>
      envelopeModuloRun(text, runId, `local://${prefix}`);
    let iteration = 0;
    const reference = normalize(
      JSON.stringify((await post(request("c-ref"))).body.envelope),
      "c-ref",
      "outputs/llm.litellm.1/c-ref/",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,20}$/),
        fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/),
        async (id, folder) => {
          // Unique per iteration: the same run_id with another prefix is rightly a 409 conflict.
          const runId = `det-${iteration++}-${id}`;
          const prefix = `${folder}/${runId}/`;
          const { body } = await post(request(runId, { write_prefix: `/artifacts/${prefix}` }));
          EnvelopeSchema.parse(body.envelope);
          expect(normalize(JSON.stringify(body.envelope), runId, prefix)).toBe(reference);
        },
      ),
      { numRuns: 8 },
    );
  });

  it("negative parity on this transport: no endpoint -> ERR_ENDPOINT_MISSING; unhealthy -> ERR_HEALTH", async () => {
    const { body: missing } = await post({
      ...request("c-missing"),
      ref: "echo/text@1",
      inputs: echoInputs("x"),
    });
    expect(missing).toMatchObject({ state: "failed", envelope: { error: { code: "ERR_ENDPOINT_MISSING" } } });
    await fetch(`${controlPlane.url}/v1/endpoints/echo/text@1`, {
      method: "PUT",
      headers,
      body: JSON.stringify(registrationFor(processor, DIGEST, `${processor.url}/nowhere`)),
    });
    const { body: unhealthy } = await post({
      ...request("c-unhealthy"),
      ref: "echo/text@1",
      inputs: echoInputs("x"),
    });
    expect(unhealthy).toMatchObject({ state: "failed", envelope: { error: { code: "ERR_HEALTH" } } });
  });
});
