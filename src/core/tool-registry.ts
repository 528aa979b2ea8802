import { parse as parseYaml } from "yaml";
import { DigestSchema, type Platform } from "../contract/primitives.ts";
import {
  type Resources,
  type ToolEntry,
  type ToolRegistry,
  ToolRegistrySchema,
} from "../contract/tool-registry.ts";
import { TheoryError } from "./errors.ts";
import { parseOrThrow } from "./validation.ts";

/**
 * The one registry loader: the Worker passes the bundled text module, Node passes the file's text.
 * Anything invalid is ERR_INPUTS naming the field.
 */
export function parseToolRegistry(text: string, source = "registry.yaml"): ToolRegistry {
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new TheoryError(
      "ERR_INPUTS",
      `${source}: not valid YAML (${(error as Error).message.split("\n")[0]})`,
    );
  }
  return parseOrThrow(ToolRegistrySchema, document, source);
}

export function lookupTool(registry: ToolRegistry, ref: string): ToolEntry {
  const entry = registry.tools[ref];
  if (!entry) throw new TheoryError("ERR_INPUTS", `unknown ref ${JSON.stringify(ref)}`);
  return entry;
}

/** `cpu:1;memory:2Gi`, from declared resources only, so it is the same on every transport. */
export function envFingerprint(resources: Resources): string {
  return `cpu:${resources.cpu};memory:${resources.memory}`;
}

/** The digest part of `IMAGE@sha256:…` or of a bare `sha256:…`. */
export function digestOf(oci: string): string {
  const digest = oci.slice(oci.lastIndexOf("@") + 1);
  if (!DigestSchema.safeParse(digest).success)
    throw new TheoryError("ERR_INPUTS", `not a pinned OCI digest: ${oci}`);
  return digest;
}

/** Expected digest (docs/contract.md#determinism-and-supply-chain): the request's expected_oci, else the registry pin for the platform. */
export function expectedDigest(
  entry: ToolEntry,
  platform: Platform,
  expectedOci?: string,
): string | undefined {
  return expectedOci !== undefined ? digestOf(expectedOci) : entry.digests[platform];
}
