import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import {
  isTerminal,
  REPLAY_WAIT_S,
  type RunRequest,
  RunRequestSchema,
  type RunResource,
} from "../../contract/api.ts";
import {
  cancelRunRoute,
  createRunRoute,
  getEnvelopeRoute,
  getReceiptRoute,
  getRunRoute,
  listRunsRoute,
  replayRunRoute,
  runEventsRoute,
} from "../../contract/routes.ts";
import { sha256Hex } from "../../core/canonical.ts";
import { TheoryError } from "../../core/errors.ts";
import { compareEnvelopes } from "../../core/replay.ts";
import { checkInputs, toolDefinition } from "../../core/tool-inputs.ts";
import { lookupTool } from "../../core/tool-registry.ts";
import { describeIssues } from "../../core/validation.ts";
import { runSession } from "../objects.ts";
import type { AppEnv } from "./context.ts";
import { sendError } from "./errors.ts";
import { mount, type RouteContext } from "./mount.ts";
import { mountOutputs } from "./outputs.ts";

/** `Prefer: wait=N` holds the request up to N seconds (at most this many) for the run to settle. */
const MAX_WAIT_S = 60;

const session = (c: Context<AppEnv>, runId: string) => runSession(c.env, runId);

/** The settled run's envelope or receipt: exactly the stored canonical bytes, ETag = their sha256. */
async function serveSettled(
  c: Context<AppEnv>,
  runId: string,
  name: "envelope" | "receipt",
): Promise<Response> {
  const text = await session(c, runId).settled(name);
  if (text === null)
    return sendError(
      c,
      new TheoryError("ERR_NOT_FOUND", `no ${name} for run ${runId} (unknown or not settled)`),
      runId,
    );
  const etag = `"${await sha256Hex(text)}"`;
  if (c.req.header("If-None-Match") === etag) return c.body(null, 304, { ETag: etag });
  return c.body(text, 200, { "Content-Type": "application/json", ETag: etag });
}

/**
 * Starts (or finds) the run: its resource, or the error response. The ref and inputs are checked
 * before any object exists, so a request its tool refuses creates no run.
 */
async function launch(
  c: Context<AppEnv>,
  request: RunRequest & { run_id: string },
  options: { waitMs?: number; replayOf?: string; existingOnly?: boolean },
): Promise<RunResource | Response> {
  try {
    lookupTool(c.var.runtime.toolRegistry, request.ref);
    checkInputs(toolDefinition(request.ref), request.inputs);
  } catch (error) {
    if (!(error instanceof TheoryError)) throw error;
    return sendError(c, new TheoryError(error.code, error.message, { status: 422 }), request.run_id);
  }
  // One call: the run's object starts it and, asked to wait, answers when it settles.
  const started = await session(c, request.run_id).start(request, options);
  if (started.ok) return started.resource;
  // A request that cannot be planned (unknown ref, unusable prefix or scope) is semantically invalid.
  const status = started.error.code === "ERR_INPUTS" ? 422 : undefined;
  return sendError(c, new TheoryError(started.error.code, started.error.message, { status }), request.run_id);
}

/** Whether the client asked for the run's events as the answer (`Accept: text/event-stream`). */
const wantsEventStream = (accept: string | undefined) =>
  (accept ?? "").split(",").some((type) => type.split(";")[0]?.trim().toLowerCase() === "text/event-stream");

/**
 * Starts (or finds) the run and answers: 202 + Location, or with `Prefer: wait=N` the settled run
 * (200) once it settles within N seconds, or with `Accept: text/event-stream` the run's events
 * stream from its first event (200), subscribed as the run starts: no second round trip before
 * the first token. Shared by POST /v1/runs and the CI hook, which for a delivery it already
 * accepted asks for `existingOnly`: that run, never a new one.
 */
export async function startRun(
  c: Context<AppEnv>,
  request: RunRequest & { run_id: string },
  options: { existingOnly?: boolean } = {},
): Promise<Response> {
  const streaming = wantsEventStream(c.req.header("Accept"));
  const wait = streaming ? undefined : /(?:^|[\s,;])wait=(\d+)/.exec(c.req.header("Prefer") ?? "")?.[1];
  const seconds = wait === undefined ? undefined : Math.min(Number(wait), MAX_WAIT_S);
  const started = await launch(c, request, {
    ...options,
    ...(seconds === undefined ? {} : { waitMs: seconds * 1000 }),
  });
  if (started instanceof Response) return started;
  const headers = { Location: `/v1/runs/${request.run_id}` };
  if (streaming) {
    const events = await session(c, request.run_id).fetch(new URL(headers.Location + "/events", c.req.url));
    const answer = new Response(events.body, events);
    answer.headers.set("Location", headers.Location);
    return answer;
  }
  if (seconds === undefined) return c.json(started, 202, headers);
  return c.json(started, isTerminal(started.state) ? 200 : 202, {
    ...headers,
    "Preference-Applied": `wait=${seconds}`,
  });
}

/** `/v1/runs…` (docs/api.md#runs). */
export function mountRuns(app: OpenAPIHono<AppEnv>): void {
  mount(app, listRunsRoute, async (c) => c.json(await c.var.runtime.runIndex.list(c.req.valid("query"))));
  mount(app, createRunRoute, (c) => {
    const body = c.req.valid("json");
    return startRun(c, { ...body, run_id: body.run_id ?? crypto.randomUUID() });
  });
  mount(app, getRunRoute, async (c) => {
    const runId = c.req.valid("param").id;
    const resource = await session(c, runId).resource();
    if (!resource) return sendError(c, new TheoryError("ERR_NOT_FOUND", `no run ${runId}`), runId);
    return c.json(resource);
  });
  mount(app, getEnvelopeRoute, (c) => serveSettled(c, c.req.valid("param").id, "envelope"));
  mount(app, getReceiptRoute, (c) => serveSettled(c, c.req.valid("param").id, "receipt"));
  mount(app, runEventsRoute, (c) => session(c, c.req.valid("param").id).fetch(c.req.raw));
  mount(app, cancelRunRoute, async (c) => {
    const runId = c.req.valid("param").id;
    const resource = await session(c, runId).cancel();
    if (!resource) return sendError(c, new TheoryError("ERR_NOT_FOUND", `no run ${runId}`), runId);
    return c.json(resource, 202);
  });
  mount(app, replayRunRoute, replayRun);
  mountOutputs(app);
}

/**
 * `POST /v1/runs/{id}/replay` (docs/api.md#replay): the settled run's exact request again — without
 * its run id and webhook, on the target (and agent) asked for — waited on up to REPLAY_WAIT_S, then
 * the two envelopes compared.
 */
async function replayRun(c: RouteContext<typeof replayRunRoute>): Promise<Response> {
  const originalId = c.req.valid("param").id;
  const asked = c.req.valid("json");
  const source = await session(c, originalId).replaySource();
  if (!source) return sendError(c, new TheoryError("ERR_NOT_FOUND", `no run ${originalId}`), originalId);
  const { envelope } = source.resource;
  if (!envelope)
    return sendError(
      c,
      new TheoryError("ERR_CONFLICT", `run ${originalId} has not settled; replay it once it has`),
      originalId,
    );
  const { run_id: _runId, webhook: _webhook, agent, ...same } = source.request;
  const target = asked.target ?? same.target;
  // A local replay runs on the agent asked for, else the original's; an agent asked for a modal
  // replay stays in the request, so the request's own rule refuses it rather than it being dropped.
  const replayAgent = target === "local" ? (asked.agent ?? agent) : asked.agent;
  const parsed = RunRequestSchema.safeParse({
    ...same,
    target,
    ...(replayAgent === undefined ? {} : { agent: replayAgent }),
  });
  if (!parsed.success)
    return sendError(c, new TheoryError("ERR_INPUTS", describeIssues(parsed.error), { status: 422 }));
  const replayId = asked.run_id ?? crypto.randomUUID();
  const replay = await launch(
    c,
    { ...parsed.data, run_id: replayId },
    { waitMs: REPLAY_WAIT_S * 1000, replayOf: originalId },
  );
  if (replay instanceof Response) return replay;
  await session(c, originalId).linkReplay(replayId);
  const headers = { Location: `/v1/runs/${replayId}` };
  if (!replay.envelope)
    return c.json(
      { verdict: "pending" as const, original: originalId, replay, differences: [] },
      202,
      headers,
    );
  const { verdict, differences } = compareEnvelopes(
    { runId: originalId, envelope },
    { runId: replayId, envelope: replay.envelope },
  );
  return c.json({ verdict, original: originalId, replay, differences }, 200, headers);
}
