import { readFile } from "node:fs/promises";
import type { Registry } from "../../src/contract/tool-registry.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { parseRegistry } from "../../src/core/tool-registry.ts";

/** registry.yaml read from disk, through the same loader the Worker bundle uses. */
export async function loadRegistryFile(path: string): Promise<Registry> {
  const text = await readFile(path, "utf8").catch(() => {
    throw new TheoryError(
      "ERR_INPUTS",
      `cannot read the registry at ${path} (set THEORY_REGISTRY or --registry)`,
    );
  });
  return parseRegistry(text, path);
}
