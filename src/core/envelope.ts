import {
  type Envelope,
  EnvelopeSchema,
  type ErrorBody,
  type ErrorEnvelope,
  type SuccessEnvelope,
} from "../contract/envelope.ts";
import { OUTPUT_INDEX } from "../contract/primitives.ts";
import { compareCodeUnits, isSortedUnique, sortByPath } from "./outputs.ts";
import { artifactUri, relativeToPrefix } from "./paths.ts";
import { describeIssues } from "./validation.ts";

const MESSAGE_MAX = 512;

export function shortMessage(message: string): string {
  return message.length <= MESSAGE_MAX ? message : `${message.slice(0, MESSAGE_MAX - 1)}…`;
}

export interface WrittenOutput {
  /** Path relative to the run prefix, e.g. `text/response.txt`. */
  path: string;
  etag: string;
}

/** A success envelope with outputs in canonical order and one proof ETag per output. */
export function buildSuccessEnvelope(args: {
  runId: string;
  runPrefix: string;
  outputs: readonly WrittenOutput[];
  envFingerprint: string;
  imageDigest: string;
}): SuccessEnvelope {
  const written = sortByPath(args.outputs);
  return {
    status: "success",
    run_id: args.runId,
    outputs: written.map((output) => ({ path: artifactUri(args.runPrefix, output.path) })),
    index_path: artifactUri(args.runPrefix, OUTPUT_INDEX),
    meta: {
      env_fingerprint: args.envFingerprint,
      image_digest: args.imageDigest,
      proof: { etag_map: Object.fromEntries(written.map((output) => [output.path, output.etag])) },
    },
  };
}

export function buildErrorEnvelope(args: {
  runId: string;
  error: ErrorBody;
  envFingerprint: string;
  imageDigest?: string;
}): ErrorEnvelope {
  return {
    status: "error",
    run_id: args.runId,
    error: { ...args.error, message: shortMessage(args.error.message) },
    meta: {
      env_fingerprint: args.envFingerprint,
      ...(args.imageDigest === undefined ? {} : { image_digest: args.imageDigest }),
    },
  };
}

export interface EnvelopeExpectation {
  runId: string;
  /** `world://{world_id}/{run_id}/` or `local://…/` — every artifact must be below it. */
  runPrefix: string;
  /** From the request's expected_oci or the tool registry's pin; undefined means no expectation. */
  expectedDigest?: string;
}

export type EnvelopeCheck = { ok: true; envelope: Envelope } | { ok: false; error: ErrorBody };

/**
 * A processor's breach, always ERR_INTERNAL: of the contract (its envelope: checkEnvelope) or of the
 * frame protocol (the orchestrator).
 */
export function processorViolation(broke: "contract" | "protocol", message: string): ErrorBody {
  return { code: "ERR_INTERNAL", message: shortMessage(`processor broke the ${broke}: ${message}`) };
}

/**
 * Every invariant the control plane holds a processor's result to (docs/contract.md#the-envelope). Fails closed:
 * digest drift is ERR_REGISTRY_MISMATCH, any other breach ERR_INTERNAL.
 */
export function checkEnvelope(raw: unknown, expect: EnvelopeExpectation): EnvelopeCheck {
  const parsed = EnvelopeSchema.safeParse(raw);
  if (!parsed.success)
    return {
      ok: false,
      error: processorViolation("contract", `invalid envelope (${describeIssues(parsed.error)})`),
    };
  const envelope = parsed.data;
  if (envelope.run_id !== expect.runId)
    return {
      ok: false,
      error: processorViolation("contract", `run_id ${envelope.run_id} is not ${expect.runId}`),
    };

  const actual = envelope.meta.image_digest;
  if (expect.expectedDigest !== undefined && actual !== undefined && actual !== expect.expectedDigest) {
    return {
      ok: false,
      error: {
        code: "ERR_REGISTRY_MISMATCH",
        message: `image digest ${actual} differs from the expected ${expect.expectedDigest}`,
      },
    };
  }
  if (envelope.status === "error") return { ok: true, envelope };

  const relative = envelope.outputs.map((output) => relativeToPrefix(output.path, expect.runPrefix));
  if (relative.some((path) => path === undefined))
    return { ok: false, error: processorViolation("contract", `an output is outside ${expect.runPrefix}`) };
  if (envelope.index_path !== artifactUri(expect.runPrefix, OUTPUT_INDEX)) {
    return {
      ok: false,
      error: processorViolation(
        "contract",
        `index_path is not ${artifactUri(expect.runPrefix, OUTPUT_INDEX)}`,
      ),
    };
  }
  const paths = envelope.outputs.map((output) => output.path);
  if (!isSortedUnique(paths))
    return { ok: false, error: processorViolation("contract", "outputs are not sorted and unique") };
  const proved = Object.keys(envelope.meta.proof.etag_map).sort(compareCodeUnits);
  if (proved.join("\n") !== (relative as string[]).join("\n")) {
    return {
      ok: false,
      error: processorViolation("contract", "etag_map does not cover exactly the outputs"),
    };
  }
  return { ok: true, envelope };
}
