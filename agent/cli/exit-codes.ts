import type { ErrorCode } from "../../src/contract/errors.ts";

/** The CLI's exit status per failure class (0 is success), stable like the codes themselves. */
export const EXIT_CODES: Readonly<Record<ErrorCode, number>> = {
  ERR_INTERNAL: 1,
  ERR_INPUTS: 2,
  ERR_AUTH: 3,
  ERR_NOT_FOUND: 4,
  ERR_CONFLICT: 5,
  ERR_MISSING_SECRET: 6,
  ERR_ENDPOINT_MISSING: 7,
  ERR_IMAGE_NOT_FOUND: 8,
  ERR_HEALTH: 9,
  ERR_REGISTRY_MISMATCH: 10,
  ERR_DOCKER: 11,
  ERR_WS_TIMEOUT: 12,
  ERR_CANCELED: 13,
};
