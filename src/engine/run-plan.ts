import type { RunRequest } from "../contract/api.ts";
import type { ProcessorPayload } from "../contract/payload.ts";
import { OUTPUT_INDEX, type Platform } from "../contract/primitives.ts";
import type { ToolRegistry } from "../contract/tool-registry.ts";
import { TheoryError } from "../core/errors.ts";
import {
  defaultWritePrefix,
  localRunPrefix,
  normalizeWritePrefix,
  worldObjectKey,
  worldRunPrefix,
} from "../core/paths.ts";
import { checkInputs, toolDefinition } from "../core/tool-inputs.ts";
import { envFingerprint, expectedDigest, lookupTool } from "../core/tool-registry.ts";

/** Everything the orchestrator decided before talking to a processor. */
export interface RunPlan {
  runId: string;
  ref: string;
  payload: ProcessorPayload;
  /** Every artifact URI of the run must be below this. */
  runPrefix: string;
  expectedDigest?: string;
  envFingerprint: string;
  timeoutMs: number;
  /** World scope: relative path -> storage key, for verifying the proof after the run. */
  objectKeys?: Record<string, string>;
}

/** How long presigned PUT URLs live: the run's budget plus a margin for slow stores. */
const PRESIGN_MARGIN_S = 300;

/**
 * Assembles the processor payload and the expectations for one run request (docs/contract.md#the-processor-payload, #determinism-and-supply-chain).
 * Unknown ref, inputs its tool's schema refuses, a bad write_prefix, or world scope without a
 * presigner -> ERR_INPUTS.
 */
export async function planRun(
  request: RunRequest & { run_id: string },
  context: {
    toolRegistry: ToolRegistry;
    worldId: string;
    platform: Platform;
    presignPut?: (key: string, expiresInSeconds: number) => Promise<string>;
  },
): Promise<RunPlan> {
  const tool = lookupTool(context.toolRegistry, request.ref);
  const definition = toolDefinition(request.ref);
  checkInputs(definition, request.inputs);
  const runId = request.run_id;
  const writePrefix = request.write_prefix
    ? normalizeWritePrefix(request.write_prefix)
    : defaultWritePrefix(request.ref, runId);
  const timeoutMs = (request.timeout_s ?? tool.timeout_s) * 1000;
  const base = {
    runId,
    ref: request.ref,
    expectedDigest: expectedDigest(tool, context.platform, request.expected_oci),
    envFingerprint: envFingerprint(tool.resources),
    timeoutMs,
  };
  const payload: ProcessorPayload = {
    run_id: runId,
    mode: request.mode,
    inputs: request.inputs,
    write_prefix: writePrefix,
    settle: "fast",
  };
  if (request.artifact_scope === "local") {
    return { ...base, payload, runPrefix: localRunPrefix(writePrefix) };
  }
  if (!context.presignPut)
    throw new TheoryError("ERR_INPUTS", "world scope is not configured here (no presigned storage)");
  const objectKeys: Record<string, string> = {};
  const outputs: Record<string, string> = {};
  for (const path of [...definition.outputs, OUTPUT_INDEX]) {
    objectKeys[path] = worldObjectKey(context.worldId, runId, path);
    outputs[path] = await context.presignPut(
      objectKeys[path],
      Math.ceil(timeoutMs / 1000) + PRESIGN_MARGIN_S,
    );
  }
  return {
    ...base,
    payload: { ...payload, outputs, world_id: context.worldId },
    runPrefix: worldRunPrefix(context.worldId, runId),
    objectKeys,
  };
}
