import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadProcessorConfig } from "../../../processor/config.ts";
import { TOOLS } from "../../../processor/tools/index.ts";
import { refSlug } from "../../../src/contract/ref.ts";
import { TOOL_DEFINITIONS, toolSchemaFile } from "../../../src/contract/tools/index.ts";
import { TheoryError } from "../../../src/core/errors.ts";
import { parseToolRegistry } from "../../../src/core/tool-registry.ts";
import { DIGEST_A } from "../../support/examples.ts";
import { TEST_PROCESSOR_TOKEN } from "../../support/tokens.ts";

const base = {
  TOOL_REF: "echo/text@1",
  IMAGE_DIGEST: DIGEST_A,
  ENV_FINGERPRINT: "cpu:1;memory:2Gi",
  PROCESSOR_TOKEN: TEST_PROCESSOR_TOKEN,
};

describe("processor config", () => {
  it("reads the environment with the spec's defaults (PORT 8000, ARTIFACTS_ROOT /artifacts)", () => {
    const config = loadProcessorConfig(base);
    expect(config).toMatchObject({
      toolRef: "echo/text@1",
      port: 8000,
      artifactsRoot: "/artifacts",
      imageDigest: DIGEST_A,
    });
  });

  it.each([
    ["TOOL_REF", { TOOL_REF: "nope" }],
    ["IMAGE_DIGEST", { IMAGE_DIGEST: undefined }],
    ["ENV_FINGERPRINT", { ENV_FINGERPRINT: "" }],
    ["PORT", { PORT: "70000" }],
    ["ARTIFACTS_ROOT", { ARTIFACTS_ROOT: "relative" }],
  ])("names a bad %s", (field, patch) => {
    let error: unknown;
    try {
      loadProcessorConfig({ ...base, ...patch });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TheoryError);
    expect((error as TheoryError).message).toContain(field);
  });
});

describe("tools agree with registry.yaml", () => {
  const registry = parseToolRegistry(
    readFileSync(join(import.meta.dirname, "../../../registry.yaml"), "utf8"),
  );
  it("every registry tool is carried by the image, with the same outputs and secrets", () => {
    for (const [ref, entry] of Object.entries(registry.tools)) {
      const tool = TOOLS.find((candidate) => candidate.definition.ref === ref);
      expect(tool, ref).toBeDefined();
      // One definition of inputs and outputs: the one the registry's schema file is exported from.
      expect(tool?.definition).toBe(TOOL_DEFINITIONS[ref]);
      expect(entry.schema).toBe(toolSchemaFile(refSlug(ref)));
      expect([...(tool?.secrets ?? [])].sort()).toEqual([...entry.secrets].sort());
    }
  });
});
