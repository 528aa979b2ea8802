import { describe, expect, it } from "vitest";
import type { Envelope } from "../../src/contract/envelope.ts";
import { compareEnvelopes } from "../../src/core/replay.ts";

const DIGEST = `sha256:${"a".repeat(64)}`;
const OTHER = `sha256:${"b".repeat(64)}`;

const success = (runId: string, etag = "9e107d9d372bb6826bd81d3542a419d6", digest = DIGEST): Envelope => ({
  status: "success",
  run_id: runId,
  outputs: [{ path: `world://w1/${runId}/text/response.txt` }],
  index_path: `world://w1/${runId}/outputs.json`,
  meta: {
    env_fingerprint: "cpu:1;memory:2Gi",
    image_digest: digest,
    proof: { etag_map: { "text/response.txt": etag } },
  },
});

describe("compareEnvelopes", () => {
  it("is identical when only the run id (and the paths that name it) differ", () => {
    expect(
      compareEnvelopes({ runId: "r1", envelope: success("r1") }, { runId: "r2", envelope: success("r2") }),
    ).toEqual({
      verdict: "identical",
      differences: [],
    });
  });

  it("names a changed digest", () => {
    const verdict = compareEnvelopes(
      { runId: "r1", envelope: success("r1") },
      { runId: "r2", envelope: success("r2", undefined, OTHER) },
    );
    expect(verdict).toEqual({
      verdict: "drifted",
      differences: [{ field: "meta.image_digest", original: DIGEST, replay: OTHER }],
    });
  });

  it("names each output whose bytes changed (by its ETag)", () => {
    const verdict = compareEnvelopes(
      { runId: "r1", envelope: success("r1") },
      { runId: "r2", envelope: success("r2", "0".repeat(32)) },
    );
    expect(verdict.differences).toEqual([
      {
        field: 'meta.proof.etag_map["text/response.txt"]',
        original: "9e107d9d372bb6826bd81d3542a419d6",
        replay: "0".repeat(32),
      },
    ]);
  });

  it("names a changed outcome: status and error code", () => {
    const failed: Envelope = {
      status: "error",
      run_id: "r2",
      error: { code: "ERR_REGISTRY_MISMATCH", message: "drift" },
      meta: { env_fingerprint: "cpu:1;memory:2Gi", image_digest: OTHER },
    };
    const fields = compareEnvelopes(
      { runId: "r1", envelope: success("r1") },
      { runId: "r2", envelope: failed },
    ).differences.map((drift) => drift.field);
    expect(fields).toEqual(
      expect.arrayContaining(["status", "error.code", "meta.image_digest", "outputs[0].path", "index_path"]),
    );
  });
});
