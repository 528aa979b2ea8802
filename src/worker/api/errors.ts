import type { Context, ErrorHandler } from "hono";
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
  const log = c.var.runtime?.log ?? createLogger({ fields: { target: "control-plane" } });
  log.error("error.api.unhandled", { path: new URL(c.req.url).pathname, error });
  return sendError(c, new TheoryError("ERR_INTERNAL", "internal error"));
};

/** The one zValidator hook: schema failures are ERR_INPUTS (422) naming the fields, never raw zod output. */
export function validationHook(
  result: { success: true } | { success: false; error: z.core.$ZodError },
): void {
  if (!result.success) throw new TheoryError("ERR_INPUTS", describeIssues(result.error), { status: 422 });
}
