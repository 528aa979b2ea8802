import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { isTerminal, type RunRequest } from "../../contract/api.ts";
import {
  cancelRunRoute,
  createRunRoute,
  getEnvelopeRoute,
  getReceiptRoute,
  getRunRoute,
  listRunsRoute,
  runEventsRoute,
} from "../../contract/routes.ts";
import { sha256Hex } from "../../core/canonical.ts";
import { TheoryError } from "../../core/errors.ts";
import { checkInputs, toolDefinition } from "../../core/tool-inputs.ts";
import { lookupTool } from "../../core/tool-registry.ts";
import { runSession } from "../objects.ts";
import type { AppEnv } from "./context.ts";
import { sendError } from "./errors.ts";
import { mount } from "./mount.ts";
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
 * Starts (or finds) the run and answers: 202 + Location, or with `Prefer: wait=N` the settled run
 * (200) once it settles within N seconds. Shared by POST /v1/runs and the CI hook.
 */
export async function startRun(
  c: Context<AppEnv>,
  request: RunRequest & { run_id: string },
): Promise<Response> {
  // Checked before any object exists: an unknown ref or inputs its tool refuses create no run.
  try {
    lookupTool(c.var.runtime.toolRegistry, request.ref);
    checkInputs(toolDefinition(request.ref), request.inputs);
  } catch (error) {
    if (!(error instanceof TheoryError)) throw error;
    return sendError(c, new TheoryError(error.code, error.message, { status: 422 }), request.run_id);
  }
  const wait = /(?:^|[\s,;])wait=(\d+)/.exec(c.req.header("Prefer") ?? "")?.[1];
  const seconds = wait === undefined ? undefined : Math.min(Number(wait), MAX_WAIT_S);
  // One call: the run's object starts it and, asked to wait, answers when it settles.
  const started = await session(c, request.run_id).start(
    request,
    seconds === undefined ? {} : { waitMs: seconds * 1000 },
  );
  if (!started.ok) {
    // A request that cannot be planned (unknown ref, unusable prefix or scope) is semantically invalid.
    const status = started.error.code === "ERR_INPUTS" ? 422 : undefined;
    return sendError(
      c,
      new TheoryError(started.error.code, started.error.message, { status }),
      request.run_id,
    );
  }
  const headers = { Location: `/v1/runs/${request.run_id}` };
  if (seconds === undefined) return c.json(started.resource, 202, headers);
  return c.json(started.resource, isTerminal(started.resource.state) ? 200 : 202, {
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
  mountOutputs(app);
}
