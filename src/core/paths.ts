import type { SuccessEnvelope } from "../contract/envelope.ts";
import {
  ARTIFACTS_ROOT,
  OUTPUT_INDEX,
  RelativePathSchema,
  writePrefixProblem,
} from "../contract/primitives.ts";
import { refSlug } from "../contract/ref.ts";
import { TheoryError } from "./errors.ts";

/** `/artifacts/outputs/{ref_slug}/{run_id}/` (docs/contract.md#write_prefix). */
export function defaultWritePrefix(ref: string, runId: string): string {
  return `${ARTIFACTS_ROOT}outputs/${refSlug(ref)}/${runId}/`;
}

/** Accepts a user's prefix with or without the trailing slash; anything else unsafe is ERR_INPUTS. */
export function normalizeWritePrefix(input: string): string {
  const prefix = input.endsWith("/") ? input : `${input}/`;
  const problem = writePrefixProblem(prefix);
  if (problem) throw new TheoryError("ERR_INPUTS", `write_prefix ${problem}`);
  return prefix;
}

/** The run's world-scope prefix: `world://{world_id}/{run_id}/`. */
export function worldRunPrefix(worldId: string, runId: string): string {
  return `world://${worldId}/${runId}/`;
}

/** The run's local-scope prefix: `local://` + the write_prefix relative to /artifacts/. */
export function localRunPrefix(writePrefix: string): string {
  const problem = writePrefixProblem(writePrefix);
  if (problem) throw new TheoryError("ERR_INPUTS", `write_prefix ${problem}`);
  return `local://${writePrefix.slice(ARTIFACTS_ROOT.length)}`;
}

function checkRelativePath(relativePath: string): string {
  if (!RelativePathSchema.safeParse(relativePath).success) {
    throw new TheoryError("ERR_INPUTS", `not a safe relative artifact path: ${JSON.stringify(relativePath)}`);
  }
  return relativePath;
}

/** An artifact URI under a run prefix; the relative path is validated, never joined blindly. */
export function artifactUri(runPrefix: string, relativePath: string): string {
  return `${runPrefix}${checkRelativePath(relativePath)}`;
}

/** The path of `uri` below `runPrefix`, or undefined when it is not safely under it. */
export function relativeToPrefix(uri: string, runPrefix: string): string | undefined {
  if (!uri.startsWith(runPrefix)) return undefined;
  const rest = uri.slice(runPrefix.length);
  return RelativePathSchema.safeParse(rest).success ? rest : undefined;
}

/**
 * A success envelope's index and outputs as paths below the run's prefix (the index first), as
 * `GET /v1/runs/{id}/outputs/{path}` takes them; a URI outside the prefix is ERR_INTERNAL.
 */
export function runOutputPaths(envelope: SuccessEnvelope): string[] {
  const prefix = envelope.index_path.slice(0, -OUTPUT_INDEX.length);
  return [envelope.index_path, ...envelope.outputs.map((output) => output.path)].map((uri) => {
    const path = relativeToPrefix(uri, prefix);
    if (!path)
      throw new TheoryError(
        "ERR_INTERNAL",
        `run ${envelope.run_id}'s envelope lists ${uri} outside its prefix`,
      );
    return path;
  });
}

/** What the control plane stores beside a run's outputs, under the same `{world_id}/{run_id}/` keys. */
export const ENVELOPE_OBJECT = "envelope.json";
export const RECEIPT_OBJECT = "receipt.json";

/** Storage key of a run's object: `{world_id}/{run_id}/{path}` (outputs, index, envelope, receipt). */
export function worldObjectKey(worldId: string, runId: string, relativePath: string): string {
  return `${worldId}/${runId}/${checkRelativePath(relativePath)}`;
}
