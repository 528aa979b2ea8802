import type { Context, ErrorHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { z } from "zod";
import type { ApiError } from "../../contract/envelope.ts";
import { shortMessage } from "../../core/envelope.ts";
import { TheoryError } from "../../core/errors.ts";
import { createLogger } from "../../core/log.ts";
import { describeIssues } from "../../core/validation.ts";
import type { AppEnv } from "./context.ts";

export function apiError(error: TheoryError, runId?: string): ApiError {
  return {
    status: "error",
    ...(runId ? { run_id: runId } : {}),
    error: { code: error.code, message: shortMessage(error.message) },
  };
}

export function sendError(c: Context<AppEnv>, error: TheoryError, runId?: string): Response {
  return c.json(apiError(error, runId), error.status as ContentfulStatusCode);
}

/** The one error handler: every failure is an error envelope; unknown ones are logged, never echoed. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  if (error instanceof TheoryError) return sendError(c, error);
  // Hono's own refusals (a media type a route does not declare) carry their status.
  if (error instanceof HTTPException && error.status >= 400 && error.status < 500)
    return sendError(c, new TheoryError("ERR_INPUTS", error.message, { status: error.status }));
  const log = c.var.runtime?.log ?? createLogger({ fields: { target: "control-plane" } });
  log.error("error.api.unhandled", { path: new URL(c.req.url).pathname, error });
  return sendError(c, new TheoryError("ERR_INTERNAL", "internal error"));
};

/**
 * The one validation hook: schema failures are our error envelope naming the fields, never raw zod
 * output. A body that fails is ERR_INPUTS 422; a query or header, ERR_INPUTS 400; a path that
 * names nothing valid (a malformed run id, output path) is ERR_NOT_FOUND 404.
 */
export function validationHook(
  result: { target?: string } & ({ success: true } | { success: false; error: z.core.$ZodError }),
): void {
  if (result.success) return;
  const message = describeIssues(result.error);
  if (result.target === "param") throw new TheoryError("ERR_NOT_FOUND", message);
  const status = result.target === "query" || result.target === "header" ? 400 : 422;
  throw new TheoryError("ERR_INPUTS", message, { status });
}
