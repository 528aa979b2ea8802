import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { RunPageSchema } from "../../src/contract/api.ts";
import { until } from "../support/until.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "../worker/support.ts";

// This project keeps settled runs for RUN_RETENTION_SECONDS=2.
const processors = inject("processors");

beforeAll(async () => {
  await registerEndpoint("llm/litellm@1", processors.litellm);
});

const listed = async (tag: string) =>
  RunPageSchema.parse(await (await api(`/v1/runs?tag=${tag}`)).json()).runs.map((run) => run.run_id);

describe("retention and the run index", () => {
  it("a settled run stays listed until retention, then leaves the listing with its storage", async () => {
    const tag = uniqueRunId("kept").toLowerCase();
    const runId = uniqueRunId("indexed");
    await runAndWait(runRequest(runId, { tags: [tag] }));
    await until("the run is listed", async () => (await listed(tag)).includes(runId));
    const stub = env.RUN_SESSION.getByName(runId);
    await until("the run expires", async () => {
      await runDurableObjectAlarm(stub);
      return (await api(`/v1/runs/${runId}`)).status === 404;
    });
    expect(await listed(tag)).toEqual([]);
    const tags = await env.RUN_INDEX.prepare("SELECT tag FROM run_tags WHERE run_id = ?").bind(runId).all();
    expect(tags.results).toEqual([]);
  });
});
