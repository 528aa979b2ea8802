import { z } from "zod";

/** The stable error taxonomy (docs/contract.md#error-codes). Adding a code needs the docs and tests. */
export const ERROR_CODES = [
  "ERR_INPUTS",
  "ERR_AUTH",
  "ERR_NOT_FOUND",
  "ERR_CONFLICT",
  "ERR_MISSING_SECRET",
  "ERR_ENDPOINT_MISSING",
  "ERR_IMAGE_NOT_FOUND",
  "ERR_HEALTH",
  "ERR_REGISTRY_MISMATCH",
  "ERR_DOCKER",
  "ERR_WS_TIMEOUT",
  "ERR_CANCELED",
  "ERR_INTERNAL",
] as const;

export const ErrorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

/**
 * Default HTTP status per code when an API answers with it directly. ERR_INPUTS and ERR_AUTH have
 * more specific variants (413/415/422, 403) chosen at the call site; codes that normally live only
 * inside an envelope map to the gateway class they describe.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  ERR_INPUTS: 400,
  ERR_AUTH: 401,
  ERR_NOT_FOUND: 404,
  ERR_CONFLICT: 409,
  ERR_MISSING_SECRET: 422,
  ERR_ENDPOINT_MISSING: 503,
  ERR_IMAGE_NOT_FOUND: 502,
  ERR_HEALTH: 502,
  ERR_REGISTRY_MISMATCH: 502,
  ERR_DOCKER: 503,
  ERR_WS_TIMEOUT: 504,
  ERR_CANCELED: 409,
  ERR_INTERNAL: 500,
};

/** The statuses each code may legitimately carry on the API (docs/contract.md#error-codes). */
export function allowedHttpStatuses(code: ErrorCode): readonly number[] {
  if (code === "ERR_INPUTS") return [400, 413, 415, 422];
  if (code === "ERR_AUTH") return [401, 403];
  return [HTTP_STATUS[code]];
}

export const STDERR_TAIL_MAX_BYTES = 2048;
