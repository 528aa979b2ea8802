import { expect } from "vitest";
import { renderReport, runConformance } from "../../agent/conformance/kit.ts";
import { toolDefinition } from "../../src/core/tool-inputs.ts";
import { DIGEST_A } from "./examples.ts";
import type { RunningProcessor } from "./processor.ts";

/** What the kit is pointed at for a processor started with startProcessor serving `ref`. */
export const conformanceTarget = (processor: RunningProcessor, ref: string) => ({
  url: processor.http,
  token: processor.token,
  tool: toolDefinition(ref),
  artifactsDir: processor.artifactsRoot,
  imageDigest: DIGEST_A,
  envFingerprint: "cpu:1;memory:2Gi",
});

/**
 * The conformance kit's `checks` (agent/conformance: the same code `theory conformance` runs)
 * against a processor started with startProcessor; a failure shows the kit's report.
 */
export async function expectConformant(processor: RunningProcessor, ref: string, checks: string[]) {
  const result = await runConformance(conformanceTarget(processor, ref), { only: checks });
  // The kit runs its checks in its own order, whatever order they were named in.
  const statuses = Object.fromEntries(result.checks.map((check) => [check.name, check.status]));
  expect(statuses, renderReport(result)).toEqual(Object.fromEntries(checks.map((name) => [name, "pass"])));
}
