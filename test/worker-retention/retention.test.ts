import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { until } from "../support/until.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "../worker/support.ts";

// This project keeps settled runs for RUN_RETENTION_SECONDS=2, stored through the S3 API.
const processors = inject("processors");
const s3Endpoint = inject("s3Endpoint");
const stored = (key: string) => fetch(`${s3Endpoint}/theory/${key}`);

beforeAll(async () => {
  await registerEndpoint("llm/litellm@1", processors.litellm);
});

const objects = (runId: string) =>
  ["envelope.json", "receipt.json", "outputs.json", "text/response.txt"].map(
    (name) => `dev/${runId}/${name}`,
  );

describe("retention", () => {
  it("keeps a settled run, its events, envelope, receipt and world outputs until retention ends", async () => {
    const runId = uniqueRunId("kept");
    const { resource } = await runAndWait(runRequest(runId, { artifact_scope: "world" }));
    expect(resource.state).toBe("succeeded");
    await until("the copy is stored", async () => (await stored(`dev/${runId}/receipt.json`)).status === 200);
    // An alarm before the end of retention deletes nothing.
    await runDurableObjectAlarm(env.RUN_SESSION.getByName(runId));
    expect((await api(`/v1/runs/${runId}`)).status).toBe(200);
    expect((await api(`/v1/runs/${runId}/envelope`)).status).toBe(200);
    for (const key of objects(runId)) expect((await stored(key)).status).toBe(200);
  });

  it("then deletes the object's storage and the run's objects: the run is ERR_NOT_FOUND", async () => {
    const runId = uniqueRunId("expired");
    await runAndWait(runRequest(runId, { artifact_scope: "world" }));
    await until("the copy is stored", async () => (await stored(`dev/${runId}/receipt.json`)).status === 200);
    const stub = env.RUN_SESSION.getByName(runId);
    await until("the run expires", async () => {
      await runDurableObjectAlarm(stub);
      return (await api(`/v1/runs/${runId}`)).status === 404;
    });
    for (const path of ["", "/envelope", "/receipt", "/events"]) {
      const response = await api(`/v1/runs/${runId}${path}`);
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ status: "error", error: { code: "ERR_NOT_FOUND" } });
    }
    for (const key of objects(runId)) expect((await stored(key)).status).toBe(404);
    await runInDurableObject(stub, async (_instance, state) => {
      expect(state.storage.sql.exec("SELECT name FROM sqlite_master").toArray()).toEqual([]);
      expect(await state.storage.getAlarm()).toBeNull();
    });
  });
});
