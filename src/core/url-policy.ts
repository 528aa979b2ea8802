import { TheoryError } from "./errors.ts";

const LOOPBACK_NAMES = new Set(["localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"]);

function ipv4(host: string): number[] | undefined {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.map(Number);
}

type HostClass = "public" | "loopback" | "private";

/** Loopback, private/link-local/unspecified (refused as targets), or public — for IP literals and well-known names. */
export function classifyHost(hostname: string): HostClass {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  if (LOOPBACK_NAMES.has(host) || host.endsWith(".localhost")) return "loopback";
  const v4 = ipv4(host);
  if (v4) {
    const [a, b] = v4 as [number, number, number, number];
    if (a === 127) return "loopback";
    if (a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168))
      return "private";
    if ((a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127) || a >= 224) return "private";
    return "public";
  }
  if (host.includes(":")) {
    if (host === "::1") return "loopback";
    if (host === "::" || /^f[cd]/.test(host) || /^fe[89ab]/.test(host) || host.startsWith("::ffff:"))
      return "private";
    return "public";
  }
  if (host.endsWith(".internal") || host.endsWith(".local")) return "private";
  return "public";
}

/**
 * The one outbound URL policy (endpoints the control plane dials, webhooks it posts to): https to a
 * public host; plain http only to loopback, and loopback at all only when `allowLoopback` (local
 * development and tests). No credentials in URLs. Hostnames are checked as written: Workers cannot
 * resolve DNS first, so a public name that points inward is the operator's to prevent.
 */
export function checkOutboundUrl(
  raw: string,
  options: { allowLoopback: boolean; allowQuery: boolean; what: string },
): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TheoryError("ERR_INPUTS", `${options.what} is not a URL`, { status: 422 });
  }
  const refuse = (why: string) => new TheoryError("ERR_INPUTS", `${options.what} ${why}`, { status: 422 });
  if (url.username || url.password) throw refuse("must not carry credentials");
  if (url.hash || (!options.allowQuery && url.search))
    throw refuse(`must not carry ${options.allowQuery ? "a fragment" : "a query or a fragment"}`);
  const host = classifyHost(url.hostname);
  if (host === "private") throw refuse("must not point at a private or link-local address");
  if (host === "loopback" && !options.allowLoopback) throw refuse("must not point at loopback");
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && host === "loopback") return url;
  throw refuse("must be https");
}
