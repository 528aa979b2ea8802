import { zValidator } from "@hono/zod-validator";
import { type Context, Hono } from "hono";
import { isTerminal, type RunRequest, RunRequestSchema } from "../../contract/api.ts";
import { RunIdSchema } from "../../contract/primitives.ts";
import { sha256Hex } from "../../core/canonical.ts";
import { TheoryError } from "../../core/errors.ts";
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

/** The settled run's envelope or receipt: exactly the stored canonical bytes, ETag = their sha256. */
async function serveSettled(c: Context<AppEnv>, name: "envelope" | "receipt"): Promise<Response> {
  const runId = runIdParam(c);
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
 * (200) once it settles within N seconds. Shared by POST /v1/runs and the CI hook, which for a
 * delivery it already accepted asks for `existingOnly`: that run, never a new one.
 */
export async function startRun(
  c: Context<AppEnv>,
  request: RunRequest & { run_id: string },
  options: { existingOnly?: boolean } = {},
): Promise<Response> {
  const wait = /(?:^|[\s,;])wait=(\d+)/.exec(c.req.header("Prefer") ?? "")?.[1];
  const seconds = wait === undefined ? undefined : Math.min(Number(wait), MAX_WAIT_S);
  // One call: the run's object starts it and, asked to wait, answers when it settles.
  const started = await session(c, request.run_id).start(request, {
    ...options,
    ...(seconds === undefined ? {} : { waitMs: seconds * 1000 }),
  });
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
  .get("/:id/envelope", requireScope("runs:read"), (c) => serveSettled(c, "envelope"))
  .get("/:id/receipt", requireScope("runs:read"), (c) => serveSettled(c, "receipt"))
  .get("/:id/events", requireScope("runs:read"), (c) => session(c, runIdParam(c)).fetch(c.req.raw))
  .post("/:id/cancel", requireScope("runs:write"), async (c) => {
    const runId = runIdParam(c);
    const resource = await session(c, runId).cancel();
    if (!resource) return sendError(c, new TheoryError("ERR_NOT_FOUND", `no run ${runId}`), runId);
    return c.json(resource, 202);
  });
