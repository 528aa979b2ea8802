import ipaddr from "ipaddr.js";
import { TheoryError } from "./errors.ts";

const LOOPBACK_NAMES = new Set(["localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"]);

/** Suffixes that name hosts on a private network (mDNS, RFC 8375, ICANN's .internal, common LAN ones). */
const PRIVATE_SUFFIXES = [
  "local",
  "localdomain",
  "internal",
  "intranet",
  "lan",
  "home",
  "corp",
  "private",
  "arpa",
];

/** WHATWG's "ends in a number": such a host is an IPv4 address or nothing (never a DNS name). */
const NUMERIC_LABEL = /^(\d+|0x[0-9a-f]*)$/;

/** 2000::/3, the only IPv6 space allocated for global unicast. */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR("2000::/3");
/** NAT64's well-known prefix (64:ff9b::/96); the local-use 64:ff9b:1::/48 is private by definition. */
const NAT64_WELL_KNOWN = ipaddr.IPv6.parseCIDR("64:ff9b::/96");

type HostClass = "public" | "loopback" | "private";

function ipv4FromParts(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

/** Only unicast outside every special range is public; 127/8 is loopback; the rest is refused. */
function classifyIPv4(address: ipaddr.IPv4): HostClass {
  const range = address.range();
  if (range === "unicast") return "public";
  return range === "loopback" ? "loopback" : "private";
}

/**
 * An IPv4 address carried inside IPv6 reaches that IPv4 host (mapped, NAT64, 6to4, Teredo), so it
 * is public only when the IPv4 address is; loopback reached that way is refused like private.
 */
function embedded(...addresses: ipaddr.IPv4[]): HostClass {
  return addresses.every((address) => classifyIPv4(address) === "public") ? "public" : "private";
}

function classifyIPv6(address: ipaddr.IPv6): HostClass {
  const parts = address.parts as [number, number, number, number, number, number, number, number];
  switch (address.range()) {
    case "loopback":
      return "loopback";
    case "ipv4Mapped":
      return embedded(address.toIPv4Address());
    case "6to4":
      return embedded(ipv4FromParts(parts[1], parts[2]));
    case "teredo":
      // Server in bits 32–63, client in the last 32 bits, inverted.
      return embedded(
        ipv4FromParts(parts[2], parts[3]),
        ipv4FromParts(~parts[6] & 0xffff, ~parts[7] & 0xffff),
      );
    case "rfc6052":
      return address.match(NAT64_WELL_KNOWN) ? embedded(ipv4FromParts(parts[6], parts[7])) : "private";
    case "unicast":
      // ::/96 (IPv4-compatible, deprecated) and space outside 2000::/3 are not routable on the internet.
      return address.match(GLOBAL_UNICAST_V6) ? "public" : "private";
    default:
      return "private";
  }
}

function classifyName(name: string): HostClass {
  if (LOOPBACK_NAMES.has(name) || name.endsWith(".localhost")) return "loopback";
  const labels = name.split(".");
  const last = labels.at(-1) ?? "";
  // One label resolves through a search domain (metadata, intranet); an empty label is malformed.
  if (labels.length < 2 || labels.some((label) => label === "") || NUMERIC_LABEL.test(last)) return "private";
  if (PRIVATE_SUFFIXES.some((suffix) => name === suffix || name.endsWith(`.${suffix}`))) return "private";
  return "public";
}

/**
 * Loopback, private (refused as a target: private, link-local, site-local, unspecified, multicast,
 * reserved, anything not clearly public unicast), or public — for IP literals in any encoding and
 * for names, after normalizing case and the trailing dot.
 */
export function classifyHost(hostname: string): HostClass {
  const host = hostname
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.+$/, "");
  if (ipaddr.isValid(host)) {
    const address = ipaddr.parse(host);
    return address.kind() === "ipv4"
      ? classifyIPv4(address as ipaddr.IPv4)
      : classifyIPv6(address as ipaddr.IPv6);
  }
  if (host.includes(":")) return "private";
  return classifyName(host);
}

/**
 * The one outbound URL policy (endpoints the control plane dials, webhooks it posts to): https to a
 * public host; plain http only to loopback, and loopback at all only when `allowLoopback` (local
 * development and tests). No credentials in URLs. Hostnames are checked as written: Workers cannot
 * resolve DNS first, so a public name that points inward is the operator's to prevent
 * (docs/operations.md#outbound-url-policy).
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
  if (host === "private") throw refuse("must not point at a private, link-local or reserved address");
  if (host === "loopback" && !options.allowLoopback) throw refuse("must not point at loopback");
  if (url.protocol === "https:") return url;
  if (url.protocol === "http:" && host === "loopback") return url;
  throw refuse("must be https");
}
