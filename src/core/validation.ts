import type { z } from "zod";
import { TheoryError } from "./errors.ts";

/** `tools["llm/litellm@1"].port`: a field path anyone can find in the document. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out || "(root)";
}

/** One line naming every bad field, e.g. `port: Too big: expected number to be <=65535`. */
export function describeIssues(
  error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] },
  prefix: readonly PropertyKey[] = [],
): string {
  return error.issues
    .map((issue) => `${formatPath([...prefix, ...issue.path])}: ${issue.message}`)
    .join("; ");
}

/** Parses or throws ERR_INPUTS naming the bad fields, prefixed with what was being read. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new TheoryError("ERR_INPUTS", `${what}: ${describeIssues(result.error)}`);
  return result.data;
}
