import { describe, expect, it } from "vitest";
import { TheoryError } from "../../src/core/errors.ts";
import {
  digestOf,
  envFingerprint,
  expectedDigest,
  lookupTool,
  parseToolRegistry,
} from "../../src/core/tool-registry.ts";
import { DIGEST_A, DIGEST_B } from "../support/examples.ts";

const TEXT = `schema: v1
tools:
  echo/text@1:
    image: 127.0.0.1:5000/theory/processor
    digests: {amd64: "${DIGEST_A}"}
    port: 8001
    resources: {cpu: 0.25, memory: 256Mi}
    secrets: []
    outputs: [text/echo.txt]
    timeout_s: 30
    modal: {app: theory-echo-text-1}
`;

function thrown(fn: () => unknown): TheoryError {
  try {
    fn();
  } catch (error) {
    if (error instanceof TheoryError) return error;
    throw error;
  }
  throw new Error("did not throw");
}

describe("registry loader", () => {
  it("parses a valid registry and derives the fingerprint and expected digest", () => {
    const registry = parseToolRegistry(TEXT);
    const echo = lookupTool(registry, "echo/text@1");
    expect(envFingerprint(echo.resources)).toBe("cpu:0.25;memory:256Mi");
    expect(expectedDigest(echo, "amd64")).toBe(DIGEST_A);
    expect(expectedDigest(echo, "arm64")).toBeUndefined();
    expect(expectedDigest(echo, "arm64", `127.0.0.1:5000/theory/processor@${DIGEST_B}`)).toBe(DIGEST_B);
    expect(digestOf(DIGEST_B)).toBe(DIGEST_B);
  });

  it("names the bad field of an invalid registry", () => {
    const error = thrown(() => parseToolRegistry(TEXT.replace("port: 8001", "port: 0"), "registry.yaml"));
    expect(error.code).toBe("ERR_INPUTS");
    expect(error.message).toContain('registry.yaml: tools["echo/text@1"].port');
  });

  it("reports YAML syntax errors and unknown refs as ERR_INPUTS", () => {
    expect(thrown(() => parseToolRegistry("tools: [unclosed")).message).toContain("not valid YAML");
    expect(thrown(() => lookupTool(parseToolRegistry(TEXT), "llm/nope@1")).message).toContain("unknown ref");
    expect(thrown(() => digestOf("repo:latest")).code).toBe("ERR_INPUTS");
  });
});
