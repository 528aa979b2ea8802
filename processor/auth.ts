import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import type { ErrorBody } from "../src/contract/envelope.ts";
import { canonicalJson } from "../src/core/canonical.ts";
import type { ProcessorConfig } from "./config.ts";
import { errorReply } from "./run-tool.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/** Why a run session is refused without the processor's token (docs/contract.md#processor-auth). */
export const REFUSED: ErrorBody = {
  code: "ERR_AUTH",
  message: "missing or wrong processor token (Authorization: Bearer <PROCESSOR_TOKEN>)",
};

/**
 * Whether a request carries `Authorization: Bearer <token>`. Both sides are hashed first, so the
 * comparison takes the same time whatever was presented, its length included.
 */
export function bearerCheck(token: string): (headers: IncomingHttpHeaders) => boolean {
  const expected = sha256(token);
  return (headers) => {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "")?.[1] ?? "";
    return timingSafeEqual(sha256(presented), expected);
  };
}

/** The 401 answer, as a status line, headers and an ERR_AUTH error body (HTTP and the upgrade alike). */
export function refusal(config: ProcessorConfig): { body: string; headers: Record<string, string | number> } {
  const body = canonicalJson(errorReply(config, undefined, REFUSED));
  return {
    body,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "www-authenticate": 'Bearer realm="processor"',
      connection: "close",
    },
  };
}
