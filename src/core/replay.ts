import type { Envelope } from "../contract/envelope.ts";

/** One way a replay's envelope differs from its original's, at a field path. */
export interface Drift {
  field: string;
  original: unknown;
  replay: unknown;
}

export interface Verdict {
  verdict: "identical" | "drifted";
  differences: Drift[];
}

/** Every string in `value` with the run's id replaced by `{run_id}` (its paths name it). */
function normalized(value: unknown, runId: string): unknown {
  if (typeof value === "string") return value.split(runId).join("{run_id}");
  if (Array.isArray(value)) return value.map((item) => normalized(item, runId));
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, normalized(item, runId)]));
  return value;
}

/** The leaves of a JSON value by field path (`meta.proof.etag_map["text/response.txt"]`). */
function leaves(value: unknown, path = ""): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      const segment = Array.isArray(value)
        ? `[${key}]`
        : /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)
          ? `${path ? "." : ""}${key}`
          : `[${JSON.stringify(key)}]`;
      for (const [leaf, leafValue] of leaves(item, `${path}${segment}`)) out.set(leaf, leafValue);
    }
    if (Object.keys(value).length === 0) out.set(path, value);
    return out;
  }
  out.set(path, value);
  return out;
}

/**
 * Whether a replay reproduced its original (docs/api.md#replay): the two envelopes are compared once
 * each run's id (and so every path that names it) is normalized. Identical means byte-identical
 * after that; otherwise every differing field is named — the digest, the outputs, each ETag of the
 * proof (so world-scope outputs are compared by their bytes' MD5), the error code.
 */
export function compareEnvelopes(
  original: { runId: string; envelope: Envelope },
  replay: { runId: string; envelope: Envelope },
): Verdict {
  const a = leaves(normalized(original.envelope, original.runId));
  const b = leaves(normalized(replay.envelope, replay.runId));
  const differences: Drift[] = [];
  for (const field of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const left = a.get(field);
    const right = b.get(field);
    if (JSON.stringify(left) !== JSON.stringify(right))
      differences.push({ field, original: left, replay: right });
  }
  return { verdict: differences.length === 0 ? "identical" : "drifted", differences };
}
