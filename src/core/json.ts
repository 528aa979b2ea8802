import { MAX_FRAME_BYTES } from "../contract/frames.ts";
import { TheoryError } from "./errors.ts";
import { formatPath } from "./validation.ts";

/**
 * How deep a JSON body or payload may nest, its top-level value counting as level 1
 * (docs/contract.md#json-limits): deep enough for any tool's inputs, shallow enough that nothing
 * downstream (canonical JSON, schemas, structured clone) can run out of stack on it.
 */
export const MAX_JSON_DEPTH = 64;

/** The largest JSON body or payload, in UTF-8 bytes: the same bound as one frame. */
export const MAX_JSON_BYTES = MAX_FRAME_BYTES;

export interface JsonLimits {
  /** Levels allowed below and including the value checked; MAX_JSON_DEPTH unless said. */
  maxDepth?: number;
}

interface Pending {
  value: unknown;
  depth: number;
  parent?: Pending;
  key?: string | number;
}

function pathOf(node: Pending): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: Pending | undefined = node; at?.parent; at = at.parent)
    path.unshift(at.key as string | number);
  return path;
}

/**
 * What in an already parsed JSON value the contract cannot carry, or undefined: nesting past the
 * depth limit, a number that is not finite (`1e400` parses as Infinity, which has no JSON form),
 * a string or key with a lone UTF-16 surrogate (not Unicode, so no UTF-8 form either). Walks
 * without recursion, so the check itself never runs out of stack.
 */
export function jsonProblem(value: unknown, limits: JsonLimits = {}): string | undefined {
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  const stack: Pending[] = [{ value, depth: 1 }];
  for (let node = stack.pop(); node; node = stack.pop()) {
    const item = node.value;
    if (typeof item === "number" && !Number.isFinite(item))
      return `${formatPath(pathOf(node))}: a number too large for a double (JSON numbers must be finite)`;
    if (typeof item === "string" && !item.isWellFormed())
      return `${formatPath(pathOf(node))}: a string with a lone surrogate (not valid Unicode)`;
    if (item === null || typeof item !== "object") continue;
    if (node.depth > maxDepth)
      return `${formatPath(pathOf(node))}: nested too deep (at most ${maxDepth} levels of objects and arrays)`;
    if (Array.isArray(item)) {
      item.forEach((child, index) => {
        stack.push({ value: child, depth: node.depth + 1, parent: node, key: index });
      });
      continue;
    }
    for (const [key, child] of Object.entries(item)) {
      if (!key.isWellFormed())
        return `${formatPath(pathOf(node))}: a key with a lone surrogate (not valid Unicode)`;
      stack.push({ value: child, depth: node.depth + 1, parent: node, key });
    }
  }
  return undefined;
}

const encoder = new TextEncoder();

/**
 * Parses a JSON body or payload the contract can carry, or throws ERR_INPUTS naming `what` and the
 * problem: over MAX_JSON_BYTES (413), malformed (400), or anything `jsonProblem` finds (400).
 * Every reader of a request body, a processor payload or CLI inputs parses through here.
 */
export function parseJson(text: string, what: string, limits: JsonLimits = {}): unknown {
  if (text.length > MAX_JSON_BYTES || encoder.encode(text).byteLength > MAX_JSON_BYTES)
    throw new TheoryError("ERR_INPUTS", `${what} over 1 MiB`, { status: 413 });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new TheoryError("ERR_INPUTS", `malformed JSON ${what}`, { status: 400 });
  }
  const problem = jsonProblem(value, limits);
  if (problem) throw new TheoryError("ERR_INPUTS", `${what}: ${problem}`, { status: 400 });
  return value;
}
