import registryText from "../../registry.yaml";
import type { ToolRegistry } from "../contract/tool-registry.ts";
import { parseToolRegistry } from "../core/tool-registry.ts";

let cached: ToolRegistry | undefined;

/** The registry bundled into the Worker, parsed once on first use. */
export function bundledToolRegistry(): ToolRegistry {
  cached ??= parseToolRegistry(registryText);
  return cached;
}
