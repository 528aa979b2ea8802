import { PROCESSOR_TOKEN_PREFIX } from "./processor-auth.ts";

/** The one redaction function: every log line and error detail passes through it. */
export const REDACTED = "[REDACTED]";

const SENSITIVE_KEY = /(token|secret|password|passwd|api[-_]?key|authorization|signature|cookie|credential)/i;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const URL_SECRET_PARAMS =
  /([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|sig|token)=)[^&\s"]+/gi;
/** A generated processor token, wherever it appears, even where its value is not known. */
const PROCESSOR_TOKEN = new RegExp(`\\b${PROCESSOR_TOKEN_PREFIX}[A-Za-z0-9_-]{16,}`, "g");
/** `scheme://user:password@`: everything up to the authority's last `@` (user and password both go). */
const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]*@/gi;

export function redact(value: unknown, secrets: readonly string[] = []): unknown {
  const known = secrets.filter((secret) => secret.length >= 4);
  const scrub = (text: string): string => {
    let out = text
      .replace(BEARER, `$1 ${REDACTED}`)
      .replace(URL_SECRET_PARAMS, `$1${REDACTED}`)
      .replace(URL_USERINFO, `$1${REDACTED}@`)
      .replace(PROCESSOR_TOKEN, REDACTED);
    for (const secret of known) out = out.split(secret).join(REDACTED);
    return out;
  };
  const walk = (node: unknown, depth: number): unknown => {
    if (typeof node === "string") return scrub(node);
    if (node === null || typeof node !== "object") return node;
    if (depth > 16) return REDACTED;
    if (Array.isArray(node)) return node.map((item) => walk(item, depth + 1));
    if (node instanceof Error) return { name: node.name, message: scrub(node.message) };
    return Object.fromEntries(
      Object.entries(node).map(([key, item]) => [
        key,
        SENSITIVE_KEY.test(key) ? REDACTED : walk(item, depth + 1),
      ]),
    );
  };
  return walk(value, 0);
}
