import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pinDigest, setDigestInText } from "../../agent/tool-registry/pin.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { parseToolRegistry } from "../../src/core/tool-registry.ts";

const A = `sha256:${"a".repeat(64)}`;
const B = `sha256:${"b".repeat(64)}`;

/** A registry.yaml with one tool whose `digests` is written as `digests` (already indented). */
const registry = (digests: string) => `# top comment
schema: v1
tools:
  echo/text@1:   # the echo tool
    image: 127.0.0.1:5000/theory/processor
${digests}
    port: 8001
    resources: {cpu: 0.25, memory: 256Mi}
    secrets: []
    schema: schema/tools/echo.text.1.json   # a plain scalar
    timeout_s: 30
    modal: { app: theory-echo-text-1 }
`;

/** The lines that differ between two texts of the same length in lines. */
function changedLines(before: string, after: string): [string, string][] {
  const [a, b] = [before.split("\n"), after.split("\n")];
  return b.flatMap((line, i) => (line === a[i] ? [] : [[a[i] ?? "", line] as [string, string]]));
}

const set = (text: string, platform: "amd64" | "arm64", digest: string) =>
  setDigestInText(text, "echo/text@1", platform, digest);

const codeOf = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return (error as TheoryError).code;
  }
  return "none";
};

describe("setDigestInText: one value changes, every other byte stays", () => {
  it("fills an empty flow map on its own line", () => {
    const before = registry("    digests: {}");
    const after = set(before, "amd64", A);
    expect(changedLines(before, after)).toEqual([["    digests: {}", `    digests: { amd64: "${A}" }`]]);
    expect(parseToolRegistry(after).tools["echo/text@1"]?.digests).toEqual({ amd64: A });
  });

  it("appends to a flow map after its last entry, keeping the author's spacing", () => {
    const before = registry(`    digests: {amd64: "${A}"}  # pinned`);
    const after = set(before, "arm64", B);
    expect(changedLines(before, after)).toEqual([
      [`    digests: {amd64: "${A}"}  # pinned`, `    digests: {amd64: "${A}", arm64: "${B}"}  # pinned`],
    ]);
  });

  it("replaces an existing value in its own quoting (plain, single, double)", () => {
    for (const [written, rendered] of [
      [A, B],
      [`'${A}'`, `'${B}'`],
      [`"${A}"`, `"${B}"`],
    ] as const) {
      const before = registry(`    digests:\n      amd64: ${written} # keep me\n      arm64: "${A}"`);
      const after = set(before, "amd64", B);
      expect(changedLines(before, after)).toEqual([
        [`      amd64: ${written} # keep me`, `      amd64: ${rendered} # keep me`],
      ]);
      expect(parseToolRegistry(after).tools["echo/text@1"]?.digests).toEqual({ amd64: B, arm64: A });
    }
  });

  it("adds a line to a block map, indented like its keys, after the last entry's comment", () => {
    const before = registry(`    digests:\n        amd64: "${A}"   # eight spaces`);
    const after = set(before, "arm64", B);
    expect(after).toBe(
      registry(`    digests:\n        amd64: "${A}"   # eight spaces\n        arm64: "${B}"`),
    );
    expect(parseToolRegistry(after).tools["echo/text@1"]?.digests).toEqual({ amd64: A, arm64: B });
  });

  it("keeps CRLF line endings when it adds a line", () => {
    const before = registry(`    digests:\n      amd64: "${A}"`).replaceAll("\n", "\r\n");
    const after = set(before, "arm64", B);
    expect(after).toBe(
      registry(`    digests:\n      amd64: "${A}"\n      arm64: "${B}"`).replaceAll("\n", "\r\n"),
    );
  });

  it("refuses what it cannot edit in place (an alias, a block scalar) with ERR_INPUTS", () => {
    const aliased = `schema: v1\nx: &pins {}\ntools:\n  echo/text@1:\n    image: 127.0.0.1:5000/t/p\n    digests: *pins\n    port: 1\n    resources: {cpu: 1, memory: 1Gi}\n    secrets: []\n    schema: schema/tools/echo.text.1.json\n    timeout_s: 1\n    modal: {app: a}\n`;
    expect(codeOf(() => setDigestInText(aliased, "echo/text@1", "amd64", A))).toBe("ERR_INPUTS");
    const block = registry(`    digests:\n      amd64: >-\n        ${A}`);
    expect(codeOf(() => set(block, "amd64", B))).toBe("ERR_INPUTS");
  });
});

describe("pinDigest: the registry file", () => {
  let dir = "";
  let file = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "theory-pin-"));
    file = join(dir, "registry.yaml");
    await writeFile(file, registry("    digests: {}"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("writes atomically, keeps the file's mode, leaves no temp file, and is a no-op the second time", async () => {
    await chmod(file, 0o640);
    expect(await pinDigest(file, "echo/text@1", "amd64", A)).toEqual({ previous: undefined, changed: true });
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(["registry.yaml"]);
    const text = await readFile(file, "utf8");
    expect(await pinDigest(file, "echo/text@1", "amd64", A)).toEqual({ previous: A, changed: false });
    expect(await pinDigest(file, "echo/text@1", "amd64", B)).toEqual({ previous: A, changed: true });
    expect(text).not.toBe(await readFile(file, "utf8"));
  });

  it("refuses an unknown ref, a malformed digest and an invalid registry, touching nothing", async () => {
    const before = await readFile(file, "utf8");
    await expect(pinDigest(file, "nope/x@1", "amd64", A)).rejects.toMatchObject({ code: "ERR_INPUTS" });
    await expect(pinDigest(file, "echo/text@1", "amd64", "sha256:abc")).rejects.toMatchObject({
      code: "ERR_INPUTS",
    });
    expect(await readFile(file, "utf8")).toBe(before);
    await writeFile(file, before.replace("port: 8001", "port: 0"));
    await expect(pinDigest(file, "echo/text@1", "amd64", A)).rejects.toBeInstanceOf(TheoryError);
    await expect(pinDigest(join(dir, "absent.yaml"), "echo/text@1", "amd64", A)).rejects.toMatchObject({
      code: "ERR_INPUTS",
    });
  });
});
