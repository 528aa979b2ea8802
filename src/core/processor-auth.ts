/**
 * What admits a run session at an endpoint (docs/contract.md#processor-auth). Every processor
 * admits `/run` only with its own token: whoever starts it generates one, sets it in the
 * processor's environment, and hands it to whoever runs on it, who sends it as a bearer token on
 * the run's handshake. `/healthz` stays open. A web endpoint adds Modal's proxy auth in front.
 */

/** The processor's environment variable that holds its token. */
export const PROCESSOR_TOKEN_ENV = "PROCESSOR_TOKEN";

/** Generated tokens start so, which lets redaction (src/core/redact.ts) recognize one anywhere. */
export const PROCESSOR_TOKEN_PREFIX = "tpt_";

/** A fresh token: the prefix and 32 random bytes, base64url. */
export function newProcessorToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const base64 = btoa(String.fromCharCode(...bytes));
  return `${PROCESSOR_TOKEN_PREFIX}${base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "")}`;
}

/** The header that admits a run session (WebSocket handshake, `POST /run`, `POST /run-stream`). */
export function processorAuthHeaders(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

/**
 * The headers Modal's proxy auth admits, for an endpoint registered behind it (a web endpoint): the
 * workspace's proxy auth token. Sent to that endpoint only, never to a sandbox or a local processor.
 */
export function modalProxyHeaders(proxy: { key: string; secret: string }): Record<string, string> {
  return { "Modal-Key": proxy.key, "Modal-Secret": proxy.secret };
}
