import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RelativePathSchema, RunIdSchema } from "../../src/contract/index.ts";
import { TheoryError } from "../../src/core/errors.ts";
import {
  artifactUri,
  defaultWritePrefix,
  localRunPrefix,
  normalizeWritePrefix,
  relativeToPrefix,
  runOutputPaths,
  worldRunPrefix,
} from "../../src/core/paths.ts";

const worldUri = (worldId: string, runId: string, path: string) =>
  artifactUri(worldRunPrefix(worldId, runId), path);
const localUri = (writePrefix: string, path: string) => artifactUri(localRunPrefix(writePrefix), path);

const runIdArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$/);
const segmentArb = fc.stringMatching(/^[a-z0-9_-][a-z0-9._-]{0,12}$/);
const relPathArb = fc.array(segmentArb, { minLength: 1, maxLength: 4 }).map((s) => s.join("/"));

describe("write_prefix rules", () => {
  it("defaults to /artifacts/outputs/{ref_slug}/{run_id}/", () => {
    expect(defaultWritePrefix("llm/litellm@1", "run-1")).toBe("/artifacts/outputs/llm.litellm.1/run-1/");
  });

  it("accepts absolute prefixes under /artifacts/ and adds the trailing slash", () => {
    expect(normalizeWritePrefix("/artifacts/team/x/")).toBe("/artifacts/team/x/");
    expect(normalizeWritePrefix("/artifacts/team/x")).toBe("/artifacts/team/x/");
    expect(normalizeWritePrefix(`/artifacts/${"a".repeat(255)}/`)).toBe(`/artifacts/${"a".repeat(255)}/`);
  });

  it.each([
    ["relative", "artifacts/x/", "must be absolute"],
    ["parent escape", "/artifacts/x/../../etc/", "must not contain . or .."],
    ["dot segment", "/artifacts/./x/", "must not contain . or .."],
    ["unexpanded home", "/artifacts/~/x/", "must be expanded"],
    ["double slash", "/artifacts//x/", "normalized"],
    ["outside /artifacts/", "/etc/x/", "must be under /artifacts/"],
    ["a sibling of /artifacts/", "/artifacts-evil/x/", "must be under /artifacts/"],
    ["the root itself", "/artifacts/", "must be under /artifacts/"],
    ["backslashes", "/artifacts/a\\b/", "normalized"],
    ["a segment over 255 bytes", `/artifacts/${"a".repeat(256)}/`, "at most 255 bytes"],
  ])("rejects %s with ERR_INPUTS", (_name, prefix, reason) => {
    let thrown: unknown;
    try {
      normalizeWritePrefix(prefix);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TheoryError);
    expect((thrown as TheoryError).code).toBe("ERR_INPUTS");
    expect((thrown as TheoryError).message).toContain(reason);
  });
});

describe("artifact URIs", () => {
  it("builds world and local URIs from parts", () => {
    expect(worldUri("w1", "run-1", "text/response.txt")).toBe("world://w1/run-1/text/response.txt");
    expect(localUri("/artifacts/outputs/llm.litellm.1/run-1/", "text/response.txt")).toBe(
      "local://outputs/llm.litellm.1/run-1/text/response.txt",
    );
  });

  it("takes segments of up to 255 bytes, the longest file name a file system holds", () => {
    expect(normalizeWritePrefix(`/artifacts/${"a".repeat(255)}/`)).toBe(`/artifacts/${"a".repeat(255)}/`);
    expect(RelativePathSchema.safeParse(`t/${"b".repeat(255)}`).success).toBe(true);
    expect(RelativePathSchema.safeParse(`t/${"b".repeat(256)}`).success).toBe(false);
  });

  it.each(["../x", "/etc/passwd", "a//b", "a/./b", "", "a\\b"])("refuses the relative path %j", (path) => {
    expect(() => worldUri("w1", "run-1", path)).toThrow(TheoryError);
    expect(() => localUri("/artifacts/x/", path)).toThrow(TheoryError);
  });

  it("keeps every output under the run prefix for randomized run_ids and prefixes", () => {
    fc.assert(
      fc.property(
        runIdArb,
        fc.array(segmentArb, { minLength: 1, maxLength: 3 }),
        relPathArb,
        (runId, dirs, rel) => {
          expect(RunIdSchema.safeParse(runId).success).toBe(true);
          const prefix = normalizeWritePrefix(`/artifacts/${dirs.join("/")}/${runId}`);
          for (const runPrefix of [localRunPrefix(prefix), worldRunPrefix("w1", runId)]) {
            const uri = `${runPrefix}${rel}`;
            expect(relativeToPrefix(uri, runPrefix)).toBe(rel);
          }
          expect(relativeToPrefix(localUri(prefix, rel), localRunPrefix(prefix))).toBe(rel);
        },
      ),
    );
  });

  it("says a URI is not under a prefix when it escapes or belongs to another run", () => {
    const prefix = worldRunPrefix("w1", "run-1");
    expect(relativeToPrefix("world://w1/run-10/a.txt", prefix)).toBeUndefined();
    expect(relativeToPrefix("world://w1/run-1/../run-2/a.txt", prefix)).toBeUndefined();
    expect(relativeToPrefix("world://w1/run-1/", prefix)).toBeUndefined();
    expect(RelativePathSchema.safeParse("a/..").success).toBe(false);
  });

  it("gives a success envelope's index and outputs as paths below its prefix, the index first", () => {
    const envelope = {
      status: "success" as const,
      run_id: "run-1",
      outputs: [{ path: "world://w1/run-1/a/b.txt" }, { path: "world://w1/run-1/c.txt" }],
      index_path: "world://w1/run-1/outputs.json",
      meta: { env_fingerprint: "cpu:1", image_digest: `sha256:${"0".repeat(64)}`, proof: { etag_map: {} } },
    };
    expect(runOutputPaths(envelope)).toEqual(["outputs.json", "a/b.txt", "c.txt"]);
    const outside = { ...envelope, outputs: [{ path: "world://w1/run-2/x.txt" }] };
    expect(() => runOutputPaths(outside)).toThrow(TheoryError);
  });
});
