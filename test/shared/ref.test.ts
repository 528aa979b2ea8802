import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseRef, RefSchema, refSlug } from "../../src/contract/index.ts";

/** The inverse of refSlug, as anyone holding a slug would write it: the product itself never needs it. */
function refFromSlug(slug: string): string {
  const match = /^([a-z0-9][a-z0-9-]*)\.([a-z0-9][a-z0-9-]*)\.([0-9]+)$/.exec(slug);
  if (!match) throw new RangeError(`not a ref slug: ${JSON.stringify(slug)}`);
  return `${match[1]}/${match[2]}@${match[3]}`;
}

const segment = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,10}$/);
const refArb = fc.tuple(segment, segment, fc.nat(999)).map(([ns, name, v]) => `${ns}/${name}@${v}`);

describe("refs", () => {
  it("parses namespace/name@version and slugs it as one path segment", () => {
    expect(parseRef("llm/litellm@1")).toEqual({ namespace: "llm", name: "litellm", version: "1" });
    expect(refSlug("llm/litellm@1")).toBe("llm.litellm.1");
    expect(refFromSlug("llm.litellm.1")).toBe("llm/litellm@1");
  });

  it("slugs bijectively: round trip, and distinct refs never share a slug", () => {
    fc.assert(
      fc.property(refArb, refArb, (a, b) => {
        expect(refFromSlug(refSlug(a))).toBe(a);
        expect(refSlug(a)).not.toContain("/");
        if (a !== b) expect(refSlug(a)).not.toBe(refSlug(b));
      }),
    );
  });

  it.each([
    "llm/litellm",
    "LLM/litellm@1",
    "llm/-x@1",
    "llm/lite.llm@1",
    "llm/litellm@v1",
    "a/b/c@1",
    "llm/x@1 ",
  ])("rejects %j", (ref) => {
    expect(parseRef(ref)).toBeUndefined();
    expect(RefSchema.safeParse(ref).success).toBe(false);
    expect(() => refSlug(ref)).toThrow(RangeError);
  });

  it("rejects malformed slugs", () => {
    for (const slug of ["llm.litellm", "llm/litellm.1", "llm.lite.llm.1"])
      expect(() => refFromSlug(slug)).toThrow();
  });
});
