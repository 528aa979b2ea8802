import { describe, expect, it } from "vitest";
import { runConformance } from "../../../agent/conformance/kit.ts";
import { toolDefinition } from "../../../src/core/tool-inputs.ts";
import { BROKEN_PROCESSORS } from "../../support/broken-processors.ts";
import { DIGEST_A } from "../../support/examples.ts";
import { startPatchedProcessor } from "../../support/patched-processor.ts";
import { TEST_PROCESSOR_TOKEN } from "../../support/tokens.ts";

describe("the conformance kit catches a processor that breaks one rule", () => {
  it.each(BROKEN_PROCESSORS)("$name: $check fails saying so", async ({ patch, check, message }) => {
    const processor = await startPatchedProcessor("echo/text@1", patch);
    try {
      const target = {
        url: processor.url,
        token: TEST_PROCESSOR_TOKEN,
        tool: toolDefinition("echo/text@1"),
        artifactsDir: processor.artifactsRoot,
        imageDigest: DIGEST_A,
        envFingerprint: "cpu:1;memory:2Gi",
      };
      const result = await runConformance(target, { only: [check] });
      expect(result.status).toBe("fail");
      expect(result.checks).toEqual([
        expect.objectContaining({ name: check, status: "fail", message: expect.stringContaining(message) }),
      ]);
    } finally {
      await processor.close();
    }
  });

  it("the same proxy without a patch passes every check: only the patch breaks the rule", async () => {
    const processor = await startPatchedProcessor("echo/text@1", {});
    try {
      const result = await runConformance({
        url: processor.url,
        token: TEST_PROCESSOR_TOKEN,
        tool: toolDefinition("echo/text@1"),
        artifactsDir: processor.artifactsRoot,
        imageDigest: DIGEST_A,
      });
      expect(result.checks.filter((check) => check.status !== "pass")).toEqual([]);
    } finally {
      await processor.close();
    }
  });
});
