import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHECKS, renderReport, runConformance } from "../../../agent/conformance/kit.ts";
import { conformanceTarget } from "../../support/conformance.ts";
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

describe("the conformance kit against this project's processor (from source)", () => {
  it.each([
    ["echo/text@1", () => echo],
    ["llm/litellm@1", () => llm],
  ])("%s passes every check", async (ref, processor) => {
    const result = await runConformance(conformanceTarget(processor(), ref));
    expect(
      result.checks.filter((check) => check.status !== "pass"),
      renderReport(result),
    ).toEqual([]);
    expect(result.summary).toEqual({ total: CHECKS.length, passed: CHECKS.length, failed: 0, skipped: 0 });
    expect(result.status).toBe("pass");
  });
});
