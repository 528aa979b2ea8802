import { randomBytes } from "node:crypto";
import { readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { isDeepStrictEqual } from "node:util";
import { isMap, isScalar, type Node, parseDocument, Scalar } from "yaml";
import { DigestSchema, type Platform } from "../../src/contract/primitives.ts";
import type { ToolRegistry } from "../../src/contract/tool-registry.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { lookupTool, parseToolRegistry } from "../../src/core/tool-registry.ts";

const splice = (text: string, start: number, end: number, insert: string) =>
  text.slice(0, start) + insert + text.slice(end);

const range = (node: unknown): [number, number] | undefined => {
  const r = (node as Node | null)?.range;
  return r ? [r[0], r[1]] : undefined;
};

/**
 * registry.yaml's text with `tools[ref].digests[platform]` set to `digest` and every other byte
 * as it was. The YAML document locates the nodes (their source ranges); the edit is made in the
 * text, because re-serializing the whole document would restyle the file (`[a]` → `[ a ]`).
 * Flow maps stay flow (`{}` → `{ amd64: "sha256:…" }`), block maps get one more line.
 */
export function setDigestInText(text: string, ref: string, platform: Platform, digest: string): string {
  const document = parseDocument(text);
  const digests = document.getIn(["tools", ref, "digests"], true);
  const at = range(digests);
  if (!isMap(digests) || !at) throw new TheoryError("ERR_INPUTS", `tools["${ref}"].digests is not a map`);
  const quoted = `"${digest}"`;
  const pair = digests.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === platform);
  if (pair) {
    const value = pair.value;
    const span = range(value);
    if (!isScalar(value) || !span || !(value.type === "PLAIN" || value.type?.startsWith("QUOTE_")))
      throw new TheoryError(
        "ERR_INPUTS",
        `tools["${ref}"].digests.${platform}: write the digest as a plain or quoted string to pin it`,
      );
    const rendered =
      value.type === Scalar.PLAIN ? digest : value.type === Scalar.QUOTE_SINGLE ? `'${digest}'` : quoted;
    return splice(text, span[0], span[1], rendered);
  }
  const entry = `${platform}: ${quoted}`;
  const last = digests.items.at(-1);
  const lastEnd = range(last?.value)?.[1] ?? range(last?.key)?.[1];
  if (digests.flow) {
    if (lastEnd === undefined) {
      if (text.slice(at[0], at[1]).replace(/\s/g, "") !== "{}")
        throw new TheoryError("ERR_INPUTS", `tools["${ref}"].digests: cannot edit this flow map`);
      return splice(text, at[0], at[1], `{ ${entry} }`);
    }
    return splice(text, lastEnd, lastEnd, `, ${entry}`);
  }
  // A block map: a new line after the last entry's line, indented like the first key.
  const firstKey = range(digests.items[0]?.key);
  if (!firstKey || lastEnd === undefined)
    throw new TheoryError("ERR_INPUTS", `tools["${ref}"].digests: cannot edit this map`);
  const indent = text.slice(text.lastIndexOf("\n", firstKey[0] - 1) + 1, firstKey[0]);
  if (/\S/.test(indent)) throw new TheoryError("ERR_INPUTS", `tools["${ref}"].digests: cannot edit this map`);
  const newline = text.includes("\r\n") ? "\r\n" : "\n";
  const eol = text.indexOf("\n", lastEnd);
  return eol === -1
    ? `${text}${newline}${indent}${entry}${newline}`
    : splice(text, eol + 1, eol + 1, `${indent}${entry}${newline}`);
}

/** Writes next to the target, then renames over it: readers see the old file or the new one. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const mode = (await stat(path)).mode & 0o777;
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, text, { mode });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export interface PinOutcome {
  /** The digest that was pinned before, if any. */
  previous: string | undefined;
  changed: boolean;
}

/**
 * Pins `digest` for `ref` on `platform` in the registry file. The result is validated with the
 * one registry loader and must equal the old registry with exactly that value changed.
 */
export async function pinDigest(
  path: string,
  ref: string,
  platform: Platform,
  digest: string,
): Promise<PinOutcome> {
  if (!DigestSchema.safeParse(digest).success)
    throw new TheoryError("ERR_INPUTS", `not a digest: ${JSON.stringify(digest)} (want sha256:<64 hex>)`);
  const text = await readFile(path, "utf8").catch(() => {
    throw new TheoryError(
      "ERR_INPUTS",
      `cannot read the registry at ${path} (set THEORY_REGISTRY or --registry)`,
    );
  });
  const before = parseToolRegistry(text, path);
  const previous = lookupTool(before, ref).digests[platform];
  if (previous === digest) return { previous, changed: false };
  const next = setDigestInText(text, ref, platform, digest);
  const expected: ToolRegistry = structuredClone(before);
  lookupTool(expected, ref).digests[platform] = digest;
  if (!isDeepStrictEqual(parseToolRegistry(next, path), expected))
    throw new TheoryError(
      "ERR_INPUTS",
      `${path}: could not pin ${ref} ${platform} without changing anything else; set digests.${platform} by hand`,
    );
  await writeAtomically(path, next);
  return { previous, changed: true };
}
