import { describe, expect, it } from "vitest";
import { checkEnvelope, type EnvelopeExpectation } from "../../src/core/envelope.ts";
import { DIGEST_A, DIGEST_B, ETAG, errorEnvelope, successEnvelope } from "../support/examples.ts";

const expectation: EnvelopeExpectation = { runId: "run-1", runPrefix: "world://w1/run-1/" };

describe("envelope invariants", () => {
  it("accepts a valid success envelope and a valid error envelope", () => {
    expect(checkEnvelope(successEnvelope(), expectation)).toMatchObject({ ok: true });
    expect(checkEnvelope(errorEnvelope(), expectation)).toMatchObject({ ok: true });
  });

  describe("digest drift", () => {
    it("passes when the expected digest equals the envelope's", () => {
      expect(checkEnvelope(successEnvelope(), { ...expectation, expectedDigest: DIGEST_A }).ok).toBe(true);
    });
    it("fails closed with ERR_REGISTRY_MISMATCH when it differs, on success and error envelopes", () => {
      for (const envelope of [successEnvelope(), errorEnvelope()]) {
        const check = checkEnvelope(envelope, { ...expectation, expectedDigest: DIGEST_B });
        expect(check).toMatchObject({ ok: false, error: { code: "ERR_REGISTRY_MISMATCH" } });
      }
    });
    it("passes when there is no expectation", () => {
      expect(checkEnvelope(successEnvelope(), { ...expectation, expectedDigest: undefined }).ok).toBe(true);
    });
  });

  it.each([
    ["a schema violation", (e: any) => (e.meta.ts = 1), "invalid envelope"],
    ["another run's id", (e: any) => (e.run_id = "run-2"), "run_id"],
    [
      "an output outside the prefix",
      (e: any) => (e.outputs[0].path = "world://w1/run-2/text/response.txt"),
      "outside",
    ],
    ["an index elsewhere", (e: any) => (e.index_path = "world://w1/run-1/index.json"), "index_path"],
    [
      "unsorted outputs",
      (e: any) => {
        e.outputs = [{ path: "world://w1/run-1/b.txt" }, { path: "world://w1/run-1/a.txt" }];
        e.meta.proof.etag_map = { "a.txt": ETAG, "b.txt": ETAG };
      },
      "sorted",
    ],
    [
      "duplicate outputs",
      (e: any) => e.outputs.push({ path: "world://w1/run-1/text/response.txt" }),
      "sorted and unique",
    ],
    ["an etag_map missing an output", (e: any) => (e.meta.proof.etag_map = {}), "etag_map"],
    ["an etag_map with an extra entry", (e: any) => (e.meta.proof.etag_map["x.txt"] = ETAG), "etag_map"],
  ])("rejects %s as ERR_INTERNAL", (_name, mutate, reason) => {
    const envelope = successEnvelope();
    mutate(envelope);
    const check = checkEnvelope(envelope, expectation);
    expect(check.ok).toBe(false);
    if (!check.ok) {
      expect(check.error.code).toBe("ERR_INTERNAL");
      expect(check.error.message).toContain(reason);
    }
  });

  it("does not accept a non-object as an envelope", () => {
    expect(checkEnvelope("success", expectation)).toMatchObject({
      ok: false,
      error: { code: "ERR_INTERNAL" },
    });
  });
});
