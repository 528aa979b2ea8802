import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { RunPageSchema, type RunSummary } from "../../src/contract/api.ts";
import { until } from "../support/until.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "./support.ts";

const processors = inject("processors");

beforeAll(async () => {
  await registerEndpoint("llm/litellm@1", processors.litellm);
});

/** GET /v1/runs?… as a page (the test fails on any other answer). */
async function list(query: Record<string, string>, token: "admin" | "reader" = "reader") {
  const response = await api(`/v1/runs?${new URLSearchParams(query)}`, { token });
  expect(response.status, await response.clone().text()).toBe(200);
  return RunPageSchema.parse(await response.json());
}

const ids = (runs: RunSummary[]) => runs.map((run) => run.run_id);

/** Settled runs appear as settled once their index write (after settling) landed. */
async function listedSettled(query: Record<string, string>, count: number) {
  for (let i = 0; i < 100; i++) {
    const page = await list(query);
    if (page.runs.filter((run) => run.settled_at).length >= count) return page;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never listed ${count} settled runs for ${JSON.stringify(query)}`);
}

describe("GET /v1/runs: the run index", () => {
  const tag = uniqueRunId("batch").toLowerCase();
  const [first, second, third] = [uniqueRunId("idx-a"), uniqueRunId("idx-b"), uniqueRunId("idx-c")];

  beforeAll(async () => {
    await runAndWait(runRequest(first, { tags: [tag, "nightly"], metadata: { commit: "abc123" } }));
    // Fails at once (no agent is connected): a run on another target, with another state.
    await runAndWait(runRequest(second, { tags: [tag], target: "local", agent: "dev-box" }));
    await runAndWait(runRequest(third, { tags: [tag] }));
  });

  it("lists runs newest first with their summary: state, labels, creation and settling times", async () => {
    const { runs, next_cursor } = await listedSettled({ tag }, 3);
    expect(ids(runs)).toEqual([third, second, first]);
    expect(next_cursor).toBeNull();
    expect(runs[2]).toMatchObject({
      ref: "llm/litellm@1",
      target: "modal",
      state: "succeeded",
      tags: [tag, "nightly"],
      metadata: { commit: "abc123" },
    });
    expect(runs[1]).toMatchObject({ target: "local", agent: "dev-box", state: "failed" });
    expect(Date.parse(runs[2]?.settled_at as string)).toBeGreaterThanOrEqual(
      Date.parse(runs[2]?.created_at as string),
    );
  });

  it("applies every filter given, together", async () => {
    const all = (await listedSettled({ tag }, 3)).runs;
    expect(ids((await list({ tag, state: "failed" })).runs)).toEqual([second]);
    expect(ids((await list({ tag, target: "modal" })).runs)).toEqual([third, first]);
    expect(ids((await list({ tag, agent: "dev-box" })).runs)).toEqual([second]);
    expect(ids((await list({ tag, ref: "echo/text@1" })).runs)).toEqual([]);
    expect(ids((await list({ tag: "nightly", state: "succeeded", target: "modal" })).runs)).toContain(first);
    const created = (id: string) => all.find((run) => run.run_id === id)?.created_at as string;
    expect(ids((await list({ tag, created_after: created(first) })).runs)).toEqual([third, second]);
    expect(ids((await list({ tag, created_before: created(third) })).runs)).toEqual([second, first]);
  });

  it("pages with an opaque cursor, stable while runs are being created", async () => {
    await listedSettled({ tag }, 3);
    const page1 = await list({ tag, limit: "1" });
    expect(ids(page1.runs)).toEqual([third]);
    expect(page1.next_cursor).toEqual(expect.any(String));
    // A run created between two pages is newer than every cursor: it never enters a later page.
    const newer = uniqueRunId("idx-d");
    await runAndWait(runRequest(newer, { tags: [tag] }));
    const page2 = await list({ tag, limit: "1", cursor: page1.next_cursor as string });
    expect(ids(page2.runs)).toEqual([second]);
    const page3 = await list({ tag, limit: "5", cursor: page2.next_cursor as string });
    expect(ids(page3.runs)).toEqual([first]);
    expect(page3.next_cursor).toBeNull();
    expect(ids((await list({ tag })).runs)[0]).toBe(newer);
  });

  it.each([
    ["a cursor it never gave", { cursor: "bm90LWEtY3Vyc29y" }],
    ["a cursor that is no base64", { cursor: "%%%" }],
    ["an unknown state", { state: "done" }],
    ["a limit over 100", { limit: "101" }],
    ["an unknown filter", { owner: "me" }],
    ["a date that is no date", { created_before: "tomorrow" }],
  ])("refuses %s: 400 ERR_INPUTS", async (_name, query) => {
    const response = await api(`/v1/runs?${new URLSearchParams(query)}`, { token: "reader" });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ status: "error", error: { code: "ERR_INPUTS" } });
  });

  it("needs runs:read: no token 401, a runs:write token 403", async () => {
    expect((await api("/v1/runs", { token: null })).status).toBe(401);
    const forbidden = await api("/v1/runs", { token: "writer" });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({
      error: { code: "ERR_AUTH", message: expect.stringContaining("runs:read") },
    });
  });
});

describe("tags and metadata on the run", () => {
  it("come back on the resource, never in the envelope", async () => {
    const runId = uniqueRunId("labels");
    const labels = { tags: ["release", "team:ml"], metadata: { commit: "f00d", branch: "main" } };
    const { resource } = await runAndWait(runRequest(runId, labels));
    expect(resource).toMatchObject({ state: "succeeded", ...labels });
    expect(await (await api(`/v1/runs/${runId}`)).json()).toMatchObject(labels);
    const envelope = await (await api(`/v1/runs/${runId}/envelope`)).text();
    for (const word of ["release", "team:ml", "f00d", "metadata", "tags"])
      expect(envelope).not.toContain(word);
  });

  it("a run without them has none on its resource", async () => {
    const { resource } = await runAndWait(runRequest(uniqueRunId("unlabeled")));
    expect(Object.keys(resource).sort()).toEqual(["envelope", "ref", "run_id", "state", "target"]);
  });

  it("over the documented limits -> 422 naming the field", async () => {
    const response = await api("/v1/runs", {
      method: "POST",
      json: runRequest(uniqueRunId("too-many"), { tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }),
    });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({
      error: { code: "ERR_INPUTS", message: expect.stringContaining("tags") },
    });
  });
});

describe("the index is written off the run's path", () => {
  it("a run that lasts is listed while it runs (its creation is indexed a second after it starts)", async () => {
    const tag = uniqueRunId("live").toLowerCase();
    const runId = uniqueRunId("idx-live");
    const started = await api("/v1/runs", {
      method: "POST",
      json: runRequest(runId, {
        tags: [tag],
        inputs: llmInputs("slow", { max_tokens: 200, token_delay_ms: 50 }),
      }),
    });
    expect(started.status).toBe(202);
    try {
      const page = await until("the live run listed", () => list({ tag }), {
        timeoutMs: 5000,
        done: (listed) => listed.runs.length === 1,
      });
      expect(page.runs).toEqual([expect.objectContaining({ run_id: runId, state: "running" })]);
      expect(page.runs[0]).not.toHaveProperty("settled_at");
    } finally {
      await api(`/v1/runs/${runId}/cancel`, { method: "POST" });
    }
  });

  it("a failing index neither fails nor delays the run; the alarm writes it later", async () => {
    const tag = uniqueRunId("outage").toLowerCase();
    const runId = uniqueRunId("idx-outage");
    await env.RUN_INDEX.exec("ALTER TABLE runs RENAME TO runs_elsewhere");
    let outcome: Awaited<ReturnType<typeof runAndWait>>;
    try {
      outcome = await runAndWait(runRequest(runId, { tags: [tag] }));
    } finally {
      await env.RUN_INDEX.exec("ALTER TABLE runs_elsewhere RENAME TO runs");
    }
    expect(outcome).toMatchObject({ status: 200, resource: { state: "succeeded" } });
    expect((await list({ tag })).runs).toEqual([]);
    expect(await runDurableObjectAlarm(env.RUN_SESSION.getByName(runId))).toBe(true);
    expect((await list({ tag })).runs).toEqual([
      expect.objectContaining({ run_id: runId, state: "succeeded" }),
    ]);
  });
});
