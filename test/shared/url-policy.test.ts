import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TheoryError } from "../../src/core/errors.ts";
import { checkOutboundUrl } from "../../src/core/url-policy.ts";

type Policy = "https" | "https+loopback";
type Octets = [number, number, number, number];

/** Whether the outbound policy takes `url` (refusals are ERR_INPUTS; the URL itself must parse). */
function accepts(url: string, policy: Policy): boolean {
  expect(() => new URL(url), url).not.toThrow();
  try {
    checkOutboundUrl(url, { allowLoopback: policy === "https+loopback", allowQuery: false, what: "url" });
    return true;
  } catch (error) {
    if (!(error instanceof TheoryError) || error.code !== "ERR_INPUTS") throw error;
    return false;
  }
}

const byte = fc.integer({ min: 0, max: 255 });
const hex16 = (high: number, low: number) => ((high << 8) | low).toString(16);

/** An IPv4 address inside `base/prefix`, the host bits drawn at random. */
function inCidr(base: Octets, prefix: number): fc.Arbitrary<Octets> {
  const start = ((base[0] << 24) | (base[1] << 16) | (base[2] << 8) | base[3]) >>> 0;
  const size = 2 ** (32 - prefix);
  return fc.integer({ min: 0, max: size - 1 }).map((offset) => {
    const n = (start + offset) >>> 0;
    return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff] as Octets;
  });
}

const loopbackV4 = inCidr([127, 0, 0, 0], 8);
const metadata = fc.constant<Octets>([169, 254, 169, 254]);
/** Private, link-local, metadata, shared (CGNAT), unspecified, documentation, benchmark, multicast, reserved. */
const inwardV4 = fc.oneof(
  inCidr([10, 0, 0, 0], 8),
  inCidr([172, 16, 0, 0], 12),
  inCidr([192, 168, 0, 0], 16),
  inCidr([169, 254, 0, 0], 16),
  metadata,
  inCidr([100, 64, 0, 0], 10),
  inCidr([0, 0, 0, 0], 8),
  inCidr([192, 0, 0, 0], 24),
  inCidr([192, 0, 2, 0], 24),
  inCidr([198, 18, 0, 0], 15),
  inCidr([198, 51, 100, 0], 24),
  inCidr([203, 0, 113, 0], 24),
  inCidr([224, 0, 0, 0], 4),
  inCidr([240, 0, 0, 0], 4),
);
/** First octets whose whole /8 is public unicast. */
const PUBLIC_FIRST_OCTETS = [
  ...range(1, 9),
  ...range(11, 99),
  ...range(101, 126),
  ...range(128, 168),
  170,
  171,
  ...range(173, 191),
  ...range(193, 197),
  ...range(199, 202),
  ...range(204, 223),
];
const publicV4 = fc
  .tuple(fc.constantFrom(...PUBLIC_FIRST_OCTETS), byte, byte, byte)
  .map((octets) => octets as Octets);

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Every way a URL can spell an IPv4 address directly (WHATWG's IPv4 parser reads them all). */
function directV4(octets: Octets): string[] {
  const [a, b, c, d] = octets;
  const n = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  return [
    `${a}.${b}.${c}.${d}`,
    `${a}.${b}.${c}.${d}.`,
    String(n),
    `0x${n.toString(16)}`,
    `0X${n.toString(16).toUpperCase()}`,
    octets.map((o) => `0x${o.toString(16)}`).join("."),
    octets.map((o) => `0${o.toString(8)}`).join("."),
    `${a}.${(b << 16) | (c << 8) | d}`,
    `${a}.${b}.${(c << 8) | d}`,
  ];
}

/** IPv4 inside IPv6: mapped, NAT64 (well-known prefix), 6to4, Teredo (client, then server). */
function translatedV4(octets: Octets): string[] {
  const [a, b, c, d] = octets;
  const high = hex16(a, b);
  const low = hex16(c, d);
  const publicServer = "4136:e378"; // 65.54.227.120
  return [
    `[::ffff:${a}.${b}.${c}.${d}]`,
    `[::FFFF:${high}:${low}]`,
    `[0:0:0:0:0:ffff:${high}:${low}]`,
    `[64:ff9b::${a}.${b}.${c}.${d}]`,
    `[64:ff9b::${high}:${low}]`,
    `[2002:${high}:${low}::1]`,
    `[2002:${high}:${low}:1234::abcd]`,
    `[2001:0:${publicServer}:0:0:${(~((a << 8) | b) & 0xffff).toString(16)}:${(~((c << 8) | d) & 0xffff).toString(16)}]`,
    `[2001:0:${high}:${low}:0:0:f7f7:f7f7]`,
  ];
}

/**
 * The deprecated IPv4-compatible form, ::a.b.c.d: not routable, refused whatever it embeds — but
 * ::0.0.0.0 and ::0.0.0.1 are the very addresses :: and ::1 (loopback), judged as such.
 */
function compatibleV4(octets: Octets): string[] {
  const [a, b, c, d] = octets;
  if (a === 0 && b === 0 && c === 0 && d <= 1) return [];
  return [`[::${a}.${b}.${c}.${d}]`, `[::${hex16(a, b)}:${hex16(c, d)}]`];
}

/** An IPv6 address inside `prefix`/bits with random low bits, in a few spellings. */
function inV6(prefix: number[], bits: number): fc.Arbitrary<string[]> {
  return fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }).map((random) => {
    const parts = random.map((part, i) => {
      const fixed = Math.max(0, Math.min(16, bits - i * 16));
      const mask = fixed === 0 ? 0 : (0xffff << (16 - fixed)) & 0xffff;
      return ((prefix[i] ?? 0) & mask) | (part & ~mask & 0xffff);
    });
    const full = parts.map((p) => p.toString(16));
    return [
      `[${full.join(":")}]`,
      `[${full.join(":").toUpperCase()}]`,
      `[${parts.map((p) => p.toString(16).padStart(4, "0")).join(":")}]`,
    ];
  });
}

const inwardV6 = fc.oneof(
  inV6([0xfc00], 7), // unique local
  inV6([0xfe80], 10), // link-local
  inV6([0xfec0], 10), // site-local (deprecated)
  inV6([0xff00], 8), // multicast
  inV6([0x2001, 0xdb8], 32), // documentation
  inV6([0x100, 0, 0, 0], 64), // discard
  inV6([0x64, 0xff9b, 0x1], 48), // NAT64 local use
  inV6([0x4000], 2), // unallocated (outside 2000::/3)
);
/** Global unicast with no special range: 2400::/7 and 2a00::/7. */
const publicV6 = fc.oneof(inV6([0x2400], 7), inV6([0x2a00], 7));

const url = (host: string) => `https://${host}/run`;
const plainUrl = (host: string) => `http://${host}:8000/run`;

describe("outbound URL policy", () => {
  it.each([
    "https://[::7f00:1]/",
    "https://[::127.0.0.1]/",
    "https://[::a9fe:a9fe]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:a9fe:a9fe::1]/",
    "https://[fec0::1]/",
    "https://localhost./",
    "https://metadata.google.internal./",
    "https://printer.local./",
    "https://[::ffff:169.254.169.254]/",
    "https://[::]/",
    "https://LOCALHOST./",
    "https://metadata/",
    "https://api.localhost./",
  ])("refuses %s under https", (target) => {
    expect(accepts(target, "https")).toBe(false);
  });

  it.each([
    "https://x.modal.run/",
    "https://Example.COM./hook",
    "https://8.8.8.8/",
    "https://[2606:4700::1111]/",
    "https://[::ffff:8.8.8.8]/",
  ])("accepts %s under https", (target) => {
    expect(accepts(target, "https")).toBe(true);
  });

  it("refuses every encoding of a private, link-local, metadata or reserved IPv4 address under either policy", () => {
    fc.assert(
      fc.property(inwardV4, fc.constantFrom<Policy>("https", "https+loopback"), (octets, policy) => {
        for (const host of [...directV4(octets), ...translatedV4(octets), ...compatibleV4(octets)]) {
          expect(accepts(url(host), policy), host).toBe(false);
          expect(accepts(plainUrl(host), policy), host).toBe(false);
        }
      }),
    );
  });

  it("refuses every private, link-local, site-local, multicast and reserved IPv6 address", () => {
    fc.assert(
      fc.property(inwardV6, fc.constantFrom<Policy>("https", "https+loopback"), (hosts, policy) => {
        for (const host of hosts) expect(accepts(url(host), policy), host).toBe(false);
      }),
    );
  });

  it("takes loopback only under https+loopback, and only as itself (never embedded in IPv6)", () => {
    fc.assert(
      fc.property(loopbackV4, (octets) => {
        for (const host of directV4(octets)) {
          expect(accepts(url(host), "https"), host).toBe(false);
          expect(accepts(url(host), "https+loopback"), host).toBe(true);
          expect(accepts(plainUrl(host), "https+loopback"), host).toBe(true);
        }
        for (const host of [...translatedV4(octets), ...compatibleV4(octets)]) {
          expect(accepts(url(host), "https+loopback"), host).toBe(false);
        }
      }),
    );
    for (const host of [
      "[::1]",
      "[0:0:0:0:0:0:0:1]",
      "localhost",
      "LocalHost.",
      "api.localhost",
      "ip6-loopback",
    ]) {
      expect(accepts(url(host), "https"), host).toBe(false);
      expect(accepts(url(host), "https+loopback"), host).toBe(true);
    }
  });

  it("takes a public address over https, directly or translated, and never over plain http", () => {
    fc.assert(
      fc.property(publicV4, fc.constantFrom<Policy>("https", "https+loopback"), (octets, policy) => {
        for (const host of [...directV4(octets), ...translatedV4(octets)]) {
          expect(accepts(url(host), policy), host).toBe(true);
          expect(accepts(plainUrl(host), policy), host).toBe(false);
        }
        for (const host of compatibleV4(octets)) expect(accepts(url(host), policy), host).toBe(false);
      }),
    );
    fc.assert(
      fc.property(publicV6, (hosts) => {
        for (const host of hosts) expect(accepts(url(host), "https"), host).toBe(true);
      }),
    );
  });
});
