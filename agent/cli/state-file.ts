import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { z } from "zod";
import { TheoryError } from "../../src/core/errors.ts";
import { describeIssues } from "../../src/core/validation.ts";

/** A state file under THEORY_HOME, parsed with its schema; an absent file is `empty`. */
export async function readStateFile<S extends z.ZodType>(
  path: string,
  schema: S,
  empty: z.infer<S>,
): Promise<z.infer<S>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return empty;
    throw error;
  }
  const parsed = schema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new TheoryError("ERR_INPUTS", `${path}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Replaces a state file atomically (write, then rename), readable by its owner only: it may hold tokens. */
export async function writeStateFile(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, path);
}
