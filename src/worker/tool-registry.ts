import registryText from "../../registry.yaml";
import type { Registry } from "../contract/tool-registry.ts";
import { parseRegistry } from "../core/tool-registry.ts";

let cached: Registry | undefined;

/** The registry bundled into the Worker, parsed once on first use. */
export function bundledRegistry(): Registry {
  cached ??= parseRegistry(registryText);
  return cached;
}
