import { readFile } from "node:fs/promises";
import type { ToolRegistry } from "../../src/contract/tool-registry.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { parseToolRegistry } from "../../src/core/tool-registry.ts";

/** registry.yaml read from disk, through the same loader the Worker bundle uses. */
export async function loadToolRegistry(path: string): Promise<ToolRegistry> {
  const text = await readFile(path, "utf8").catch(() => {
    throw new TheoryError(
      "ERR_INPUTS",
      `cannot read the registry at ${path} (set THEORY_REGISTRY or --registry)`,
    );
  });
  return parseToolRegistry(text, path);
}
