import type { ErrorBody } from "../contract/envelope.ts";
import { type ErrorCode, HTTP_STATUS } from "../contract/errors.ts";

/** The one error type: a stable code, a short actionable message, optionally an HTTP status. */
export class TheoryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { status?: number; cause?: unknown }) {
    super(message, { cause: options?.cause });
    this.name = "TheoryError";
    this.code = code;
    this.status = options?.status ?? HTTP_STATUS[code];
  }

  toBody(): ErrorBody {
    return { code: this.code, message: this.message };
  }
}

/** Maps anything thrown to an error body; unknown failures never leak their message or stack. */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof TheoryError) return error.toBody();
  return { code: "ERR_INTERNAL", message: "internal error" };
}
