import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { ReceiptSchema } from "../../src/contract/api.ts";
import { webhookLedgerShard } from "../../src/worker/objects.ts";
import { until } from "../support/until.ts";
import { githubHook, signedHook } from "./hook-signing.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "./support.ts";

const processors = inject("processors");

const hookRequest = () => ({
  ref: "llm/litellm@1",
  mode: "mock",
  inputs: llmInputs("from ci", { max_tokens: 3 }),
  target: "modal",
  artifact_scope: "local",
});

async function expectAuthError(response: Response, message: string) {
  expect(response.status).toBe(401);
  const body = (await response.json()) as any;
  expect(body.error).toMatchObject({ code: "ERR_AUTH", message: expect.stringContaining(message) });
}

describe("inbound CI hooks (Standard Webhooks)", () => {
  it("a valid signature starts exactly one run, whose id derives from the webhook id; a retry gets that run", async () => {
    await registerEndpoint("llm/litellm@1", processors.litellm);
    const hook = signedHook(JSON.stringify(hookRequest()));
    const response = await hook.post();
    expect(response.status).toBe(202);
    const resource = (await response.json()) as any;
    expect(resource.run_id).toMatch(/^hook-[a-f0-9]{32}$/);
    const retry = await hook.post();
    expect(retry.status).toBe(202);
    expect(retry.headers.get("Location")).toBe(`/v1/runs/${resource.run_id}`);
    expect(((await retry.json()) as any).run_id).toBe(resource.run_id);
    const { resource: settled } = await runAndWait({ ...hookRequest(), run_id: resource.run_id });
    expect(settled.state).toBe("succeeded");
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${resource.run_id}/receipt`)).json());
    expect(receipt.attempts).toHaveLength(1);
  });

  it("a CI retry that waits (Prefer: wait) gets the settled run", async () => {
    const hook = signedHook(JSON.stringify(hookRequest()));
    const first = await hook.post();
    expect(first.status).toBe(202);
    const runId = ((await first.json()) as any).run_id;
    const waited = await hook.post({ Prefer: "wait=20" });
    expect(waited.status).toBe(200);
    expect(await waited.json()).toMatchObject({ run_id: runId, state: "succeeded" });
  });

  it("a request the control plane cannot plan (unknown ref) leaves no trace: the corrected retry runs", async () => {
    const id = `msg_${uniqueRunId("unplanned")}`;
    const bad = await signedHook(JSON.stringify({ ...hookRequest(), ref: "no/such@1" }), { id }).post();
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as any).error.code).toBe("ERR_INPUTS");
    const fixed = await signedHook(JSON.stringify(hookRequest()), { id }).post();
    expect(fixed.status).toBe(202);
  });

  it("an accepted id re-signed over another request -> 409 ERR_CONFLICT, no second run", async () => {
    const id = `msg_${uniqueRunId("resigned")}`;
    const first = await signedHook(JSON.stringify(hookRequest()), { id }).post();
    expect(first.status).toBe(202);
    const other = await signedHook(JSON.stringify({ ...hookRequest(), mode: "real" }), { id }).post();
    expect(other.status).toBe(409);
    expect(((await other.json()) as any).error.code).toBe("ERR_CONFLICT");
  });

  it("the ledger is sharded by delivery, each shard purging expired ids through an index", async () => {
    const shards = new Set(Array.from({ length: 64 }, (_, i) => webhookLedgerShard(`ci:msg_${i}`)));
    expect(shards.size).toBeGreaterThan(8);
    await runInDurableObject(env.WEBHOOK_LEDGER.getByName(webhookLedgerShard("ci:x")), (_ledger, state) => {
      const indexes = state.storage.sql
        .exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        .toArray();
      expect(indexes.map((index) => index.sql).join()).toMatch(/\(expires_ms\)/);
    });
  });

  it.each([
    [
      "a bad signature",
      () =>
        signedHook(JSON.stringify(hookRequest()), {
          secret: "whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC0tLS0=",
        }),
      "does not verify",
    ],
    [
      "a stale timestamp",
      () => signedHook(JSON.stringify(hookRequest()), { at: new Date(Date.now() - 6 * 60_000) }),
      "5-minute window",
    ],
    [
      "a future timestamp",
      () => signedHook(JSON.stringify(hookRequest()), { at: new Date(Date.now() + 6 * 60_000) }),
      "5-minute window",
    ],
  ])("%s -> 401 ERR_AUTH, and no run", async (_name, make, message) => {
    const hook = make();
    await expectAuthError(await hook.post(), message);
  });

  it("a tampered body -> 401; missing headers -> 401", async () => {
    const hook = signedHook(JSON.stringify(hookRequest()));
    const tampered = await api("/v1/hooks/ci", {
      method: "POST",
      token: null,
      body: JSON.stringify({ ...hookRequest(), mode: "real" }),
      headers: {
        "Content-Type": "application/json",
        "webhook-id": hook.id,
        "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "webhook-signature": "v1,AAAA",
      },
    });
    await expectAuthError(tampered, "does not verify");
    await expectAuthError(
      await api("/v1/hooks/ci", { method: "POST", token: null, json: hookRequest() }),
      "required",
    );
  });

  it("a signed but invalid run request -> 422 ERR_INPUTS, nothing started, the id not consumed", async () => {
    const id = `msg_${uniqueRunId("bad")}`;
    const bad = signedHook(JSON.stringify({ ...hookRequest(), mode: "fake" }), { id });
    const response = await bad.post();
    expect(response.status).toBe(422);
    expect(((await response.json()) as any).error.code).toBe("ERR_INPUTS");
    const fixed = signedHook(JSON.stringify(hookRequest()), { id });
    expect((await fixed.post()).status).toBe(202);
  });

  it("an oversized body -> 413", async () => {
    const hook = signedHook(JSON.stringify({ ...hookRequest(), inputs: llmInputs("x".repeat(1024 * 1024)) }));
    expect((await hook.post()).status).toBe(413);
  });
});

describe("inbound CI hooks (GitHub X-Hub-Signature-256)", () => {
  it("repository_dispatch: client_payload is the run request", async () => {
    const response = await githubHook({ action: "theory-run", client_payload: hookRequest() });
    expect(response.status).toBe(202);
  });

  it("workflow_dispatch-style: string inputs are mapped by the documented rule", async () => {
    const response = await githubHook({
      inputs: {
        ref: "llm/litellm@1",
        mode: "mock",
        target: "modal",
        artifact_scope: "local",
        inputs: '{"schema":"v1","params":{"messages":[{"role":"user","content":"wd"}],"max_tokens":2}}',
        timeout_s: "30",
      },
    });
    expect(response.status).toBe(202);
    const bad = await githubHook({
      inputs: {
        ref: "llm/litellm@1",
        mode: "mock",
        target: "modal",
        artifact_scope: "local",
        inputs: "{not json",
      },
    });
    expect(bad.status).toBe(422);
    expect(((await bad.json()) as any).error).toMatchObject({
      code: "ERR_INPUTS",
      message: "inputs.inputs is not JSON",
    });
  });

  it("a bad HMAC -> 401; a redelivery -> the same run", async () => {
    await expectAuthError(
      await githubHook({ client_payload: hookRequest() }, { secret: "not-the-secret-at-all" }),
      "does not verify",
    );
    const delivery = crypto.randomUUID();
    const first = await githubHook({ client_payload: hookRequest() }, { delivery });
    expect(first.status).toBe(202);
    const again = await githubHook({ client_payload: hookRequest() }, { delivery });
    expect(again.status).toBe(202);
    expect(((await again.json()) as any).run_id).toBe(((await first.json()) as any).run_id);
  });
});

async function deliveriesFor(runId: string): Promise<any[]> {
  const all = (await (await fetch(`${processors.receiver}/deliveries`)).json()) as any[];
  return all.filter((d) => d.body?.run_id === runId);
}

describe("outbound run webhooks", () => {
  it("delivered once on success, signed (the receiver verifies with standardwebhooks), with the settled run", async () => {
    await registerEndpoint("llm/litellm@1", processors.litellm);
    const runId = uniqueRunId("wh-ok");
    const { resource } = await runAndWait(
      runRequest(runId, { webhook: { url: `${processors.receiver}/ok`, events: ["start", "completed"] } }),
    );
    expect(resource.state).toBe("succeeded");
    const deliveries = await until("2 deliveries", () => deliveriesFor(runId), {
      done: (d) => d.length >= 2,
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await deliveriesFor(runId)).toHaveLength(2);
    const completed = deliveries.find((d) => d.body.state === "succeeded");
    expect(completed).toMatchObject({ verified: true, webhook_id: `msg_${runId}_completed`, body: resource });
    expect(deliveries.find((d) => d.webhook_id === `msg_${runId}_start`)?.verified).toBe(true);
    const receipt = ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json());
    expect(receipt.webhooks?.find((w) => w.event === "completed")).toMatchObject({
      delivered: true,
      attempts: [{ status: 200 }],
    });
  });

  it("500 twice then 200 -> exactly three attempts, the same webhook-id each time", async () => {
    const runId = uniqueRunId("wh-flaky");
    await runAndWait(
      runRequest(runId, { webhook: { url: `${processors.receiver}/flaky`, events: ["completed"] } }),
    );
    const stub = env.RUN_SESSION.getByName(runId);
    const deliveries = await until(
      "3 deliveries, each retry due at an alarm",
      async () => {
        await runDurableObjectAlarm(stub);
        return deliveriesFor(runId);
      },
      { done: (d) => d.length >= 3 },
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    await runDurableObjectAlarm(stub);
    expect(await deliveriesFor(runId)).toHaveLength(3);
    expect(new Set(deliveries.map((d) => d.webhook_id))).toEqual(new Set([`msg_${runId}_completed`]));
    expect(deliveries.every((d) => d.verified)).toBe(true);
    const receipt = await until(
      "the receipt to say delivered",
      async () => ReceiptSchema.parse(await (await api(`/v1/runs/${runId}/receipt`)).json()),
      { done: (r) => r.webhooks?.[0]?.delivered === true },
    );
    expect(receipt.webhooks?.[0]?.attempts.map((a) => a.status)).toEqual([500, 500, 200]);
  });

  it("a receiver that never answers does not delay the envelope", async () => {
    const runId = uniqueRunId("wh-never");
    const { status, resource } = await runAndWait(
      runRequest(runId, { webhook: { url: `${processors.receiver}/never`, events: ["start", "completed"] } }),
      5,
    );
    expect(status).toBe(200);
    expect(resource.state).toBe("succeeded");
    expect((await api(`/v1/runs/${runId}/envelope`)).status).toBe(200);
  });

  it("carry the run's tags and metadata (the run resource), at start and completion", async () => {
    const runId = uniqueRunId("wh-labels");
    const labels = { tags: ["ci", "pr-7"], metadata: { commit: "c0ffee" } };
    await runAndWait(
      runRequest(runId, {
        ...labels,
        webhook: { url: `${processors.receiver}/ok`, events: ["start", "completed"] },
      }),
    );
    const deliveries = await until("2 deliveries", () => deliveriesFor(runId), {
      done: (d) => d.length >= 2,
    });
    expect(deliveries.map((d) => d.body)).toEqual([
      expect.objectContaining({ state: "running", ...labels }),
      expect.objectContaining({ state: "succeeded", ...labels }),
    ]);
    expect(JSON.stringify(deliveries[1].body.envelope)).not.toContain("c0ffee");
  });

  it("a run without labels sends none", async () => {
    const runId = uniqueRunId("wh-plain");
    await runAndWait(
      runRequest(runId, { webhook: { url: `${processors.receiver}/ok`, events: ["completed"] } }),
    );
    const [delivery] = await until("a delivery", () => deliveriesFor(runId), { done: (d) => d.length >= 1 });
    expect(delivery.body).not.toHaveProperty("tags");
    expect(delivery.body).not.toHaveProperty("metadata");
  });

  it.each([
    ["a private address", "https://10.1.2.3/hook"],
    ["link-local metadata", "https://169.254.169.254/latest"],
    ["plain http off loopback", "http://ci.example.test/hook"],
  ])("refuses a webhook to %s (422), starting nothing", async (_name, url) => {
    const runId = uniqueRunId("wh-bad");
    const response = await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, { webhook: { url, events: ["completed"] } }),
    });
    expect(response.status).toBe(422);
    expect((await api(`/v1/runs/${runId}`)).status).toBe(404);
  });
});
