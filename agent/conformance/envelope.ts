// The envelope rules a check applies to whatever a processor answered: the control plane's own
// checkEnvelope (src/core/envelope.ts), canonical bytes, the tool's declared outputs, the identity.
import { type Envelope, EnvelopeSchema } from "../../src/contract/envelope.ts";
import { canonicalJson } from "../../src/core/canonical.ts";
import { checkEnvelope } from "../../src/core/envelope.ts";
import { localRunPrefix, relativeToPrefix } from "../../src/core/paths.ts";
import { describeIssues } from "../../src/core/validation.ts";
import type { KitSession } from "./session.ts";

export type Parsed = { ok: true; envelope: Envelope } | { ok: false; problem: string };

/** The text as an envelope of the strict schema (src/contract/envelope.ts), or what is wrong with it. */
export function parseEnvelope(text: string): Parsed {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, problem: `not JSON: ${JSON.stringify(text.slice(0, 80))}` };
  }
  const parsed = EnvelopeSchema.safeParse(raw);
  return parsed.success
    ? { ok: true, envelope: parsed.data }
    : { ok: false, problem: `not a valid envelope: ${describeIssues(parsed.error)}` };
}

/** Why `text` is not the canonical (RFC 8785) form of the JSON it holds, or undefined when it is. */
export function canonicalProblem(text: string): string | undefined {
  let canonical: string;
  try {
    canonical = canonicalJson(JSON.parse(text));
  } catch {
    return "not JSON";
  }
  if (canonical === text) return undefined;
  let at = 0;
  while (at < text.length && text[at] === canonical[at]) at += 1;
  return `not canonical JSON from byte ${at}: ${JSON.stringify(text.slice(at, at + 24))}, canonical has ${JSON.stringify(canonical.slice(at, at + 24))}`;
}

/** What the run's prefix is for a local-scope payload. */
export const localPrefixOf = (writePrefix: string) => localRunPrefix(writePrefix);

/**
 * The control plane's check (run_id, digest when the kit was given one, outputs under the prefix,
 * sorted and unique, index_path, etag_map) plus: a success names exactly the tool's outputs.
 */
export function ruleProblem(
  session: KitSession,
  envelope: Envelope,
  expect: { runId: string; runPrefix: string },
): string | undefined {
  const checked = checkEnvelope(envelope, { ...expect, expectedDigest: session.target.imageDigest });
  if (!checked.ok) return `${checked.error.code}: ${checked.error.message}`;
  if (envelope.status === "error") return undefined;
  const written = envelope.outputs.map((output) => relativeToPrefix(output.path, expect.runPrefix)).sort();
  const declared = [...session.target.tool.outputs].sort();
  if (written.join("\n") !== declared.join("\n"))
    return `outputs ${JSON.stringify(written)} are not the tool's declared ${JSON.stringify(declared)}`;
  return undefined;
}

/**
 * `image_digest` and `env_fingerprint` against the ones the kit was given, else against the first
 * envelope that named them (held constant from then on).
 */
export function identityProblem(session: KitSession, envelope: Envelope): string | undefined {
  const identity = session.identity;
  const digest = envelope.meta.image_digest;
  const fingerprint = envelope.meta.env_fingerprint;
  if (digest !== undefined) {
    identity.imageDigest ??= digest;
    if (digest !== identity.imageDigest)
      return `image_digest ${digest} is not ${identity.imageDigest}${session.target.imageDigest ? "" : " (the first envelope's)"}`;
  }
  identity.envFingerprint ??= fingerprint;
  if (fingerprint !== identity.envFingerprint)
    return `env_fingerprint ${fingerprint} is not ${identity.envFingerprint}${session.target.envFingerprint ? "" : " (the first envelope's)"}`;
  return undefined;
}

/**
 * Everything wrong with `text` as the envelope of a run that should succeed: schema, canonical
 * bytes, the control plane's rules, identity. Empty when it is a good success envelope.
 */
export function successProblems(
  session: KitSession,
  text: string,
  expect: { runId: string; runPrefix: string },
): { envelope?: Envelope; problems: string[] } {
  const parsed = parseEnvelope(text);
  if (!parsed.ok) return { problems: [parsed.problem] };
  const envelope = parsed.envelope;
  const problems = [
    envelope.status === "success"
      ? undefined
      : `status error (${envelope.error.code}: ${envelope.error.message}), expected success`,
    canonicalProblem(text),
    ruleProblem(session, envelope, expect),
    identityProblem(session, envelope),
  ].filter((problem): problem is string => problem !== undefined);
  return { envelope, problems };
}

/**
 * An envelope's text with its run_id and run prefix replaced by placeholders: two runs of the same
 * inputs are deterministic when these are equal (docs/contract.md#determinism-and-supply-chain).
 */
export function envelopeModuloRun(text: string, runId: string, runPrefix: string): string {
  return text.replaceAll(runPrefix, "PREFIX/").replaceAll(`"run_id":"${runId}"`, '"run_id":"RUN"');
}

const CANONICAL_RESULT_HEAD = '{"content":';
const CANONICAL_RESULT_TAIL = ',"kind":"RunResult"}';

/**
 * The envelope's own text inside a RunResult frame: its exact bytes when the frame is written
 * canonically (content first, then kind), else the content re-serialized.
 */
export function envelopeTextOf(frameText: string): string {
  if (frameText.startsWith(CANONICAL_RESULT_HEAD) && frameText.endsWith(CANONICAL_RESULT_TAIL))
    return frameText.slice(CANONICAL_RESULT_HEAD.length, -CANONICAL_RESULT_TAIL.length);
  return JSON.stringify((JSON.parse(frameText) as { content: unknown }).content);
}
