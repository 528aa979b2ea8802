import { randomUUID } from "node:crypto";
import type { ProcessorFrame } from "../../src/contract/frames.ts";
import { ModeSchema, OciRefSchema, RunIdSchema } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { type OptionSpecs, type ParsedValues, positiveIntFlag } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { INPUT_OPTIONS, readInputs } from "../cli/inputs.ts";
import type { DirectRunRequest, DirectRunResult } from "./run.ts";

/** The flags of `localctl run` and `modalctl run` (declared with `oneOf: INPUT_FLAGS`). */
export const DIRECT_RUN_OPTIONS = {
  ref: { type: "string", placeholder: "R", description: "the tool's ref, e.g. echo/text@1", required: true },
  mode: { type: "string", placeholder: "mock|real", description: "mock or real work", required: true },
  ...INPUT_OPTIONS,
  "run-id": { type: "string", placeholder: "ID", description: "the run's id (default: a fresh UUID)" },
  "write-prefix": {
    type: "string",
    placeholder: "/artifacts/…",
    description: "where the outputs go (default /artifacts/outputs/{ref_slug}/{run_id}/)",
  },
  "expected-oci": {
    type: "string",
    placeholder: "IMAGE@sha256:…",
    description: "fail with ERR_REGISTRY_MISMATCH unless the processor runs this digest",
  },
  timeout: { type: "string", placeholder: "S", description: "the run's budget in seconds (1-3600)" },
} as const satisfies OptionSpecs;

/** `--ref R --mode M` + inputs + `[--run-id] [--write-prefix] [--expected-oci] [--timeout]`, checked. */
export async function readDirectRunArgs(
  values: ParsedValues<typeof DIRECT_RUN_OPTIONS>,
  context: CliContext,
): Promise<DirectRunRequest> {
  const ref = values.ref;
  const mode = ModeSchema.safeParse(values.mode);
  if (!mode.success) throw new TheoryError("ERR_INPUTS", "--mode mock|real is required");
  const runId = values["run-id"] ?? randomUUID();
  if (!RunIdSchema.safeParse(runId).success) {
    throw new TheoryError("ERR_INPUTS", "--run-id must be 1-128 of [A-Za-z0-9_-], starting alphanumeric");
  }
  const expectedOci = values["expected-oci"];
  if (expectedOci !== undefined && !OciRefSchema.safeParse(expectedOci).success) {
    throw new TheoryError("ERR_INPUTS", "--expected-oci must be IMAGE@sha256:<hex>");
  }
  return {
    ref,
    run_id: runId,
    mode: mode.data,
    inputs: await readInputs(values, context.stdin),
    write_prefix: values["write-prefix"],
    expected_oci: expectedOci,
    timeout_s: positiveIntFlag(values.timeout, "--timeout", 3600),
  };
}

/** Live token text on stderr when it is a terminal; `done()` ends the line. */
export function tokenEcho(context: CliContext) {
  let streamed = false;
  return {
    onFrame(frame: ProcessorFrame) {
      if (frame.kind !== "Token" || !context.stderrIsTTY) return;
      streamed = true;
      process.stderr.write(frame.content.text);
    },
    done() {
      if (streamed) process.stderr.write("\n");
    },
  };
}

/** Only the canonical envelope on stdout; an error envelope sets the exit status for its code. */
export function envelopeResult(result: DirectRunResult): CommandResult {
  const raw = `${result.text}\n`;
  return result.envelope.status === "error" ? { raw, code: result.envelope.error.code } : { raw };
}
