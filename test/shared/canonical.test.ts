import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../src/core/canonical.ts";
import { buildSuccessEnvelope } from "../../src/core/envelope.ts";
import { sortByPath } from "../../src/core/outputs.ts";
import { DIGEST_A, ETAG } from "../support/examples.ts";

/** The same object with its keys inserted in a different order, recursively. */
function permuteKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((item) => permuteKeys(item, seed));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value);
  const rotated = entries.map((_, i) => entries[(i + seed) % entries.length] as [string, unknown]);
  return Object.fromEntries(rotated.reverse().map(([k, v]) => [k, permuteKeys(v, seed + 1)]));
}

describe("canonical JSON", () => {
  it("is identical under any key permutation", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(20), (value, seed) => {
        expect(canonicalJson(permuteKeys(value, seed))).toBe(canonicalJson(value));
      }),
    );
  });

  it("writes equal numbers the same however they were written", () => {
    const texts = ['{"n":1}', '{"n":1.0}', '{"n":1e0}', '{"n":10E-1}', '{"n":0.1e1}'];
    const canonical = new Set(texts.map((text) => canonicalJson(JSON.parse(text))));
    expect([...canonical]).toEqual(['{"n":1}']);
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (n) => {
        expect(canonicalJson({ n: Number(n.toExponential()) })).toBe(canonicalJson({ n }));
      }),
    );
  });

  it("round-trips: parsing canonical text and canonicalizing again is the identity", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
      }),
    );
  });

  it("refuses values JSON cannot carry", () => {
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
    expect(() => canonicalJson({ n: Number.NaN })).toThrow();
    expect(() => canonicalJson({ n: Number.POSITIVE_INFINITY })).toThrow();
  });

  it("hashes text as UTF-8 with SHA-256", async () => {
    expect(await sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await sha256Hex(new TextEncoder().encode("abc"))).toBe(await sha256Hex("abc"));
    expect(await sha256Hex("abd")).not.toBe(await sha256Hex("abc"));
  });
});

describe("output order", () => {
  const paths = ["text/b.txt", "text/a.txt", "a/z.txt", "Z.txt", "text/a.txt.bak"];
  const envelope = (order: string[]) => ({
    status: "success",
    outputs: order.map((path) => ({ path: `world://w/r/${path}` })),
  });

  it("gives the same bytes for any input order only after sorting", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(paths, { minLength: paths.length }), (shuffled) => {
        const sorted = (order: string[]) => ({
          ...envelope(order),
          outputs: sortByPath(envelope(order).outputs),
        });
        expect(canonicalJson(sorted(shuffled))).toBe(canonicalJson(sorted(paths)));
      }),
    );
    expect(canonicalJson(envelope(paths))).not.toBe(canonicalJson(envelope([...paths].reverse())));
  });

  it("sorts by code units, not locale", () => {
    expect(sortByPath(paths.map((path) => ({ path }))).map((o) => o.path)).toEqual([
      "Z.txt",
      "a/z.txt",
      "text/a.txt",
      "text/a.txt.bak",
      "text/b.txt",
    ]);
  });

  it("builds success envelopes in canonical order whatever order outputs were written in", () => {
    const build = (outputs: { path: string; etag: string }[]) =>
      canonicalJson(
        buildSuccessEnvelope({
          runId: "r",
          runPrefix: "world://w/r/",
          outputs,
          envFingerprint: "cpu:1;memory:2Gi",
          imageDigest: DIGEST_A,
        }),
      );
    const written = paths.map((path) => ({ path, etag: ETAG }));
    expect(build([...written].reverse())).toBe(build(written));
    expect(build(written)).toContain(
      '"outputs":[{"path":"world://w/r/Z.txt"},{"path":"world://w/r/a/z.txt"}',
    );
  });
});
