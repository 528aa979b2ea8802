import { parse as parseYaml } from "yaml";
import { DigestSchema, OciRefSchema, type Platform } from "../contract/primitives.ts";
import { refSlug } from "../contract/ref.ts";
import {
  type Resources,
  type ToolEntry,
  type ToolRegistry,
  ToolRegistrySchema,
} from "../contract/tool-registry.ts";
import { toolSchemaFile } from "../contract/tools/index.ts";
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
  const registry = parseOrThrow(ToolRegistrySchema, document, source);
  // A ref this build defines no tool for still loads (a container may carry it); its runs are
  // refused when their inputs are checked (toolDefinition: ERR_INPUTS).
  for (const [ref, entry] of Object.entries(registry.tools)) {
    const expected = toolSchemaFile(refSlug(ref));
    if (entry.schema !== expected)
      throw new TheoryError("ERR_INPUTS", `${source}: tools["${ref}"].schema: must be ${expected}`);
  }
  return registry;
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

/** `256Mi` / `2Gi` -> MiB (Modal's unit; Docker's bytes are MiB × 1024²). */
export function memoryMiB(memory: string): number {
  const match = /^([1-9][0-9]*)(Mi|Gi)$/.exec(memory);
  if (!match)
    throw new TheoryError("ERR_INPUTS", `memory ${JSON.stringify(memory)} is not like 512Mi or 2Gi`);
  return Number(match[1]) * (match[2] === "Gi" ? 1024 : 1);
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

/**
 * The image a ref starts from on a platform (localctl start, modalctl start): `oci` when given (by
 * digest only, never a tag), else the registry's repository at the platform's pin. ERR_INPUTS when
 * neither is there.
 */
export function resolveImage(
  registry: ToolRegistry,
  ref: string,
  platform: Platform,
  oci?: string,
): { image: string; digest: string } {
  const tool = lookupTool(registry, ref);
  if (oci !== undefined) {
    if (!oci.includes("@") || !OciRefSchema.safeParse(oci).success)
      throw new TheoryError("ERR_INPUTS", "--oci must be IMAGE@sha256:<hex> (by digest, never a tag)");
    return { image: oci, digest: digestOf(oci) };
  }
  const pinned = tool.digests[platform];
  if (!pinned) {
    throw new TheoryError(
      "ERR_INPUTS",
      `${ref} has no digest pinned for ${platform}: pin one with imagectl pin, or pass --oci`,
    );
  }
  return { image: `${tool.image}@${pinned}`, digest: pinned };
}
