import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECKS, renderReport, runConformance } from "../../../agent/conformance/kit.ts";
import { toolDefinition } from "../../../src/core/tool-inputs.ts";
import { DIGEST_A } from "../../support/examples.ts";
import { type RunningProcessor, startProcessor } from "../../support/processor.ts";

let echo: RunningProcessor;
let llm: RunningProcessor;
beforeAll(async () => {
  echo = await startProcessor({ toolRef: "echo/text@1" });
  llm = await startProcessor({ toolRef: "llm/litellm@1" });
});
afterAll(async () => {
  await echo.close();
  await llm.close();
});

const targetOf = (processor: RunningProcessor, ref: string) => ({
  url: processor.http,
  token: processor.token,
  tool: toolDefinition(ref),
  artifactsDir: processor.artifactsRoot,
  imageDigest: DIGEST_A,
  envFingerprint: "cpu:1;memory:2Gi",
});

describe("the conformance kit against this project's processor (from source)", () => {
  it.each([
    ["echo/text@1", () => echo],
    ["llm/litellm@1", () => llm],
  ])("%s passes every check", async (ref, processor) => {
    const result = await runConformance(targetOf(processor(), ref));
    expect(
      result.checks.filter((check) => check.status !== "pass"),
      renderReport(result),
    ).toEqual([]);
    expect(result.summary).toEqual({ total: CHECKS.length, passed: CHECKS.length, failed: 0, skipped: 0 });
    expect(result.status).toBe("pass");
  });
});
