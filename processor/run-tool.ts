import type { ApiError, Envelope, ErrorBody, ErrorEnvelope } from "../src/contract/envelope.ts";
import { type ProcessorPayload, ProcessorPayloadSchema } from "../src/contract/payload.ts";
import { OUTPUT_INDEX, RunIdSchema } from "../src/contract/primitives.ts";
import { buildErrorEnvelope, buildSuccessEnvelope, shortMessage } from "../src/core/envelope.ts";
import { TheoryError, toErrorBody } from "../src/core/errors.ts";
import type { Logger } from "../src/core/log.ts";
import { localRunPrefix, worldRunPrefix } from "../src/core/paths.ts";
import { requireSecrets } from "../src/core/secrets.ts";
import { checkInputs } from "../src/core/tool-inputs.ts";
import { describeIssues } from "../src/core/validation.ts";
import { localSink, worldSink, writeArtifacts } from "./artifacts.ts";
import type { ProcessorConfig } from "./config.ts";
import type { Emit, Tool } from "./tools/tool.ts";

export interface RunDeps {
  config: ProcessorConfig;
  tool: Tool;
  log: Logger;
  fetch?: typeof fetch;
}

export type PayloadCheck =
  | { ok: true; payload: ProcessorPayload }
  | { ok: false; runId: string | undefined; error: ErrorBody };

/** Validates a payload; on failure keeps the run_id when it is readable, so the error can carry it. */
export function checkPayload(raw: unknown): PayloadCheck {
  const parsed = ProcessorPayloadSchema.safeParse(raw);
  if (parsed.success) return { ok: true, payload: parsed.data };
  const candidate = (raw as { run_id?: unknown } | null)?.run_id;
  const runId = RunIdSchema.safeParse(candidate).success ? (candidate as string) : undefined;
  return {
    ok: false,
    runId,
    error: { code: "ERR_INPUTS", message: `payload: ${describeIssues(parsed.error)}` },
  };
}

export function runErrorEnvelope(config: ProcessorConfig, runId: string, error: ErrorBody): ErrorEnvelope {
  return buildErrorEnvelope({
    runId,
    error,
    envFingerprint: config.envFingerprint,
    imageDigest: config.imageDigest,
  });
}

/** An error envelope when the run is known, else the API error shape (docs/api.md#errors: run_id when known). */
export function errorReply(
  config: ProcessorConfig,
  runId: string | undefined,
  error: ErrorBody,
): Envelope | ApiError {
  if (runId !== undefined) return runErrorEnvelope(config, runId, error);
  return {
    status: "error",
    error: { ...error, message: shortMessage(error.message) },
    meta: { env_fingerprint: config.envFingerprint, image_digest: config.imageDigest },
  };
}

/** The run's params, checked against the tool's schema; the outputs and secrets it needs. */
function checkRunnable(payload: ProcessorPayload, tool: Tool, env: ProcessorConfig["env"]): unknown {
  const { params } = checkInputs(tool.definition, payload.inputs);
  if (payload.outputs) {
    const expected = [...tool.definition.outputs, OUTPUT_INDEX].sort().join(",");
    if (Object.keys(payload.outputs).sort().join(",") !== expected) {
      throw new TheoryError("ERR_INPUTS", `outputs must name exactly: ${expected}`);
    }
  }
  if (payload.mode === "real") requireSecrets(tool.secrets, env);
  return params;
}

/**
 * The one run implementation both transports call: validate, compute, write artifacts, return
 * the envelope. Never throws; every failure becomes an error envelope.
 */
export async function runTool(
  payload: ProcessorPayload,
  emit: Emit,
  signal: AbortSignal,
  deps: RunDeps,
): Promise<Envelope> {
  const { config, tool } = deps;
  const fail = (error: ErrorBody) => runErrorEnvelope(config, payload.run_id, error);
  try {
    const params = checkRunnable(payload, tool, config.env);
    const files = await tool.run({ mode: payload.mode, params, env: config.env, emit, signal });
    signal.throwIfAborted();
    // The payload schema guarantees outputs and world_id come together (world scope).
    const sink = payload.outputs
      ? worldSink(payload.outputs, deps.fetch)
      : localSink(config.artifactsRoot, payload.write_prefix);
    const written = await writeArtifacts({
      runId: payload.run_id,
      files,
      declared: tool.definition.outputs,
      sink,
    });
    return buildSuccessEnvelope({
      runId: payload.run_id,
      runPrefix: payload.world_id
        ? worldRunPrefix(payload.world_id, payload.run_id)
        : localRunPrefix(payload.write_prefix),
      outputs: written,
      envFingerprint: config.envFingerprint,
      imageDigest: config.imageDigest,
    });
  } catch (error) {
    if (signal.aborted) return fail({ code: "ERR_CANCELED", message: "the run was canceled" });
    if (!(error instanceof TheoryError)) {
      deps.log.error("error.tool.crash", {
        execution_id: payload.run_id,
        ref: tool.definition.ref,
        error: error as Error,
      });
    }
    return fail(toErrorBody(error));
  }
}
