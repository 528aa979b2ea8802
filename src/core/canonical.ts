import canonicalize from "canonicalize";

/** RFC 8785 canonical JSON: the only way an envelope is written or compared. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError("value has no JSON representation");
  return text;
}

const encoder = new TextEncoder();

/** Lowercase hex SHA-256 of text (as UTF-8) or bytes, with WebCrypto (Node and workerd alike). */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  // Node's and workerd's typings disagree on SharedArrayBuffer views; ours are never shared.
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The bytes of a lowercase hex string (e.g. a sha256Hex), for constant-time comparisons. */
export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(hex.match(/../g) ?? [], (byte) => Number.parseInt(byte, 16));
}
