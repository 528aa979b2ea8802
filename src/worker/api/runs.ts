import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import { isTerminal, type RunRequest, RunRequestSchema, type RunResource } from "../../contract/api.ts";
import { RunIdSchema } from "../../contract/primitives.ts";
import { sha256Hex } from "../../core/canonical.ts";
import { TheoryError } from "../../core/errors.ts";
import { ENVELOPE_OBJECT, RECEIPT_OBJECT, worldObjectKey } from "../../core/paths.ts";
import { runSession } from "../objects.ts";
import type { AppEnv } from "./context.ts";
import { sendError, validationHook } from "./errors.ts";
import { jsonBody, requireScope } from "./middleware.ts";

/** `Prefer: wait=N` holds the request up to N seconds (at most this many) for the run to settle. */
const MAX_WAIT_S = 60;

function runIdParam(c: Context<AppEnv>): string {
  const id = c.req.param("id") ?? "";
  if (!RunIdSchema.safeParse(id).success) throw new TheoryError("ERR_NOT_FOUND", "no such run");
  return id;
}

const session = (c: Context<AppEnv>, runId: string) => runSession(c.env, runId);

async function waitSettled(
  c: Context<AppEnv>,
  runId: string,
  seconds: number,
  resource: RunResource,
): Promise<RunResource> {
  const deadline = Date.now() + seconds * 1000;
  let current = resource;
  for (
    let delay = 25;
    !isTerminal(current.state) && Date.now() < deadline;
    delay = Math.min(delay * 2, 500)
  ) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(delay, Math.max(0, deadline - Date.now()))));
    current = (await session(c, runId).resource()) ?? current;
  }
  return current;
}

/** The persisted canonical bytes of a run's envelope or receipt, with ETag = their sha256. */
async function servePersisted(c: Context<AppEnv>, name: string): Promise<Response> {
  const runId = runIdParam(c);
  const { config, store } = c.var.runtime;
  const object = await store.get(worldObjectKey(config.worldId, runId, name));
  if (!object)
    return sendError(
      c,
      new TheoryError("ERR_NOT_FOUND", `no ${name} for run ${runId} (unknown or not settled)`),
      runId,
    );
  const etag = `"${await sha256Hex(object.bytes)}"`;
  if (c.req.header("If-None-Match") === etag) return c.body(null, 304, { ETag: etag });
  return c.body(object.bytes as Uint8Array<ArrayBuffer>, 200, {
    "Content-Type": "application/json",
    ETag: etag,
  });
}

/**
 * Starts (or finds) the run and answers: 202 + Location, or with `Prefer: wait=N` the settled run
 * (200) once it settles within N seconds. Shared by POST /v1/runs and the CI hook.
 */
export async function startRun(
  c: Context<AppEnv>,
  request: RunRequest & { run_id: string },
): Promise<Response> {
  const started = await session(c, request.run_id).start(request);
  if (!started.ok) {
    // A request that cannot be planned (unknown ref, unusable prefix or scope) is semantically invalid.
    const status = started.error.code === "ERR_INPUTS" ? 422 : undefined;
    return sendError(
      c,
      new TheoryError(started.error.code, started.error.message, { status }),
      request.run_id,
    );
  }
  const wait = /(?:^|[\s,;])wait=(\d+)/.exec(c.req.header("Prefer") ?? "")?.[1];
  const headers = { Location: `/v1/runs/${request.run_id}` };
  if (wait === undefined) return c.json(started.resource, 202, headers);
  const seconds = Math.min(Number(wait), MAX_WAIT_S);
  const resource = await waitSettled(c, request.run_id, seconds, started.resource);
  return c.json(resource, isTerminal(resource.state) ? 200 : 202, {
    ...headers,
    "Preference-Applied": `wait=${seconds}`,
  });
}

export const runs = new Hono<AppEnv>()
  .post(
    "/",
    requireScope("runs:write"),
    jsonBody,
    zValidator("json", RunRequestSchema, validationHook),
    async (c) => {
      const body = c.req.valid("json");
      return startRun(c, { ...body, run_id: body.run_id ?? crypto.randomUUID() });
    },
  )
  .get("/:id", requireScope("runs:read"), async (c) => {
    const runId = runIdParam(c);
    const resource = await session(c, runId).resource();
    if (!resource) return sendError(c, new TheoryError("ERR_NOT_FOUND", `no run ${runId}`), runId);
    return c.json(resource);
  })
  .get("/:id/envelope", requireScope("runs:read"), (c) => servePersisted(c, ENVELOPE_OBJECT))
  .get("/:id/receipt", requireScope("runs:read"), (c) => servePersisted(c, RECEIPT_OBJECT))
  .get("/:id/events", requireScope("runs:read"), (c) => session(c, runIdParam(c)).fetch(c.req.raw))
  .post("/:id/cancel", requireScope("runs:write"), async (c) => {
    const runId = runIdParam(c);
    const resource = await session(c, runId).cancel();
    if (!resource) return sendError(c, new TheoryError("ERR_NOT_FOUND", `no run ${runId}`), runId);
    return c.json(resource, 202);
  });
