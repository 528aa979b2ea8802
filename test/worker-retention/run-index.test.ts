import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { RunPageSchema } from "../../src/contract/api.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "../worker/support.ts";

// This project keeps settled runs for RUN_RETENTION_SECONDS=2.
const processors = inject("processors");

beforeAll(async () => {
  await registerEndpoint("llm/litellm@1", processors.litellm);
});

const listed = async (tag: string) =>
  RunPageSchema.parse(await (await api(`/v1/runs?tag=${tag}`)).json()).runs.map((run) => run.run_id);

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never: ${what}`);
}

describe("retention and the run index", () => {
  it("a settled run stays listed until retention, then leaves the listing with its storage", async () => {
    const tag = uniqueRunId("kept").toLowerCase();
    const runId = uniqueRunId("indexed");
    await runAndWait(runRequest(runId, { tags: [tag] }));
    await until(async () => (await listed(tag)).includes(runId), "the run is listed");
    const stub = env.RUN_SESSION.getByName(runId);
    await until(async () => {
      await runDurableObjectAlarm(stub);
      return (await api(`/v1/runs/${runId}`)).status === 404;
    }, "the run expires");
    expect(await listed(tag)).toEqual([]);
    const tags = await env.RUN_INDEX.prepare("SELECT tag FROM run_tags WHERE run_id = ?").bind(runId).all();
    expect(tags.results).toEqual([]);
  });
});
