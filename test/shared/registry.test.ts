import { describe, expect, it } from "vitest";
import { TheoryError } from "../../src/core/errors.ts";
import {
  digestOf,
  envFingerprint,
  expectedDigest,
  lookupTool,
  memoryMiB,
  parseToolRegistry,
  resolveImage,
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
    schema: schema/tools/echo.text.1.json
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

  it("memory sizes are MiB: 256Mi -> 256, 2Gi -> 2048; anything else is ERR_INPUTS", () => {
    expect(memoryMiB("256Mi")).toBe(256);
    expect(memoryMiB("2Gi")).toBe(2048);
    for (const bad of ["2G", "0Mi", "1.5Gi", ""])
      expect(thrown(() => memoryMiB(bad)).code).toBe("ERR_INPUTS");
  });
});

describe("the image a ref starts from", () => {
  const registry = parseToolRegistry(TEXT);
  const repository = "127.0.0.1:5000/theory/processor";

  it("is the registry's repository at the platform's pin", () => {
    expect(resolveImage(registry, "echo/text@1", "amd64")).toEqual({
      image: `${repository}@${DIGEST_A}`,
      digest: DIGEST_A,
    });
  });

  it("is --oci when given, by digest only", () => {
    const oci = `other.test/tools/echo@${DIGEST_B}`;
    expect(resolveImage(registry, "echo/text@1", "arm64", oci)).toEqual({ image: oci, digest: DIGEST_B });
    for (const bad of [`${repository}:latest`, DIGEST_B, `${repository}@sha256:beef`]) {
      const error = thrown(() => resolveImage(registry, "echo/text@1", "amd64", bad));
      expect([error.code, error.message]).toEqual(["ERR_INPUTS", expect.stringContaining("--oci")]);
    }
  });

  it("without a pin for the platform (and no --oci) is ERR_INPUTS saying how to pin one", () => {
    const error = thrown(() => resolveImage(registry, "echo/text@1", "arm64"));
    expect([error.code, error.message]).toEqual(["ERR_INPUTS", expect.stringContaining("imagectl pin")]);
    expect(thrown(() => resolveImage(registry, "llm/nope@1", "amd64")).message).toContain("unknown ref");
  });
});
