import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, extname, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");

/** A place one file points at: `target` is a path (relative to `base`) with an optional `#anchor`. */
interface Reference {
  source: string;
  base: string;
  target: string;
}

const FENCE = /^ {0,3}(```|~~~)/;
const ATX_HEADING = /^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;

/** The markdown's lines outside fenced code blocks. */
function proseLines(markdown: string): string[] {
  let fenced = false;
  return markdown.split(/\r?\n/).filter((line) => {
    if (FENCE.test(line)) fenced = !fenced;
    else return !fenced;
    return false;
  });
}

/**
 * The anchors GitHub gives a page's headings: the heading's text (code marks and link syntax
 * dropped), lowercased, punctuation other than `-` and `_` removed, spaces as `-`; a repeated slug
 * gets `-1`, `-2`, … in order.
 */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = ATX_HEADING.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*]/g, "");
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    slugs.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return slugs;
}

/** `docs/<page>.md`, optionally `#anchor`, optionally followed by `, #anchor` for the same page. */
const CITATION = /\bdocs\/([\w.-]+\.md)((?:#[\w-]+)?)((?:,\s*#[\w-]+)*)/g;

/** Every docs page (and anchor) a source text cites, as targets relative to the repository root. */
function docCitations(text: string): string[] {
  const targets: string[] = [];
  for (const [, page, anchor, more] of text.matchAll(CITATION)) {
    const anchors = [anchor, ...(more?.match(/#[\w-]+/g) ?? [])].filter(Boolean);
    if (anchors.length === 0) targets.push(`docs/${page}`);
    for (const each of anchors) targets.push(`docs/${page}${each}`);
  }
  return targets;
}

/** Link targets in markdown prose that stay inside the repository (no scheme, not protocol-relative). */
function relativeLinks(markdown: string): string[] {
  const prose = proseLines(markdown)
    .join("\n")
    .replace(/`[^`\n]*`/g, "");
  const targets: string[] = [];
  for (const [, target] of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    if (target && !/^[a-z][a-z0-9+.-]*:/i.test(target) && !target.startsWith("//")) targets.push(target);
  }
  return targets;
}

/** The file a link points at: the source itself for `#anchor`, the repository root for `/path`. */
function targetFile(source: string, base: string, path: string): string {
  if (path === "") return join(root, source);
  return path.startsWith("/") ? join(root, path) : resolve(base, path);
}

/** Each reference whose file is missing, or whose anchor is no heading of that file. */
async function brokenReferences(
  references: readonly Reference[],
  read: (path: string) => Promise<string | undefined>,
): Promise<string[]> {
  const problems: string[] = [];
  for (const { source, base, target } of references) {
    const [path = "", anchor] = target.split("#", 2);
    const file = targetFile(source, base, decodeURIComponent(path));
    const where = `${source} -> ${target}`;
    if (!existsSync(file)) {
      problems.push(`${where}: no such file ${relative(root, file)}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (extname(file) !== ".md") {
      problems.push(`${where}: an anchor into a file that is not markdown`);
      continue;
    }
    const text = await read(file);
    if (text === undefined || !headingSlugs(text).has(anchor))
      problems.push(`${where}: no heading #${anchor} in ${relative(root, file)}`);
  }
  return problems;
}

const readText = (path: string) => readFile(path, "utf8").catch(() => undefined);

async function trackedTypeScript(): Promise<string[]> {
  const { stdout } = await exec("git", ["ls-files", "-z", "--", "*.ts"], { cwd: root });
  return stdout.split("\0").filter(Boolean);
}

async function markdownPages(): Promise<string[]> {
  const docs = (await readdir(join(root, "docs"))).filter((name) => name.endsWith(".md"));
  return ["README.md", ...docs.map((name) => `docs/${name}`)];
}

describe("docs links", () => {
  it("resolves every docs/<page>.md#<anchor> that tracked TypeScript cites", async () => {
    const references: Reference[] = [];
    for (const source of await trackedTypeScript()) {
      const text = (await readText(join(root, source))) ?? "";
      for (const target of docCitations(text)) references.push({ source, base: root, target });
    }
    expect(references.map((reference) => reference.target)).toContain("docs/architecture.md#seams");
    expect(await brokenReferences(references, readText)).toEqual([]);
  });

  it("resolves every relative link in README.md and docs/*.md", async () => {
    const references: Reference[] = [];
    for (const source of await markdownPages()) {
      const text = (await readText(join(root, source))) ?? "";
      const base = dirname(join(root, source));
      for (const target of relativeLinks(text)) references.push({ source, base, target });
    }
    expect(references.length).toBeGreaterThan(20);
    expect(await brokenReferences(references, readText)).toEqual([]);
  });

  it("reports a made-up anchor, a missing page and a broken markdown link", async () => {
    // Assembled at run time, so this file itself cites nothing that does not exist.
    const page = ["docs", "api.md"].join("/");
    const missing = ["docs", "nowhere.md"].join("/");
    const source = `see ${page}#runs, #no-such-heading and ${missing}#runs`;
    const cited = docCitations(source).map((target) => ({ source: "probe.ts", base: root, target }));
    expect(cited.map((reference) => reference.target)).toEqual([
      `${page}#runs`,
      `${page}#no-such-heading`,
      `${missing}#runs`,
    ]);
    const linked = relativeLinks("[a](contract.md#not-a-heading) [b](#errors) `[c](ignored.md)`").map(
      (target) => ({ source: "docs/api.md", base: join(root, "docs"), target }),
    );
    expect(await brokenReferences([...cited, ...linked], readText)).toEqual([
      `probe.ts -> ${page}#no-such-heading: no heading #no-such-heading in docs/api.md`,
      `probe.ts -> ${missing}#runs: no such file ${missing}`,
      "docs/api.md -> contract.md#not-a-heading: no heading #not-a-heading in docs/contract.md",
    ]);
  });

  it("slugs headings as GitHub does, ignoring fenced code", () => {
    const markdown = [
      "# The `write_prefix`",
      "## theory.run.v1",
      "## Retries, health and budgets",
      "## Runs",
      "## Runs",
      "```",
      "# not a heading",
      "```",
      "    # indented code, not a heading",
    ].join("\n");
    expect([...headingSlugs(markdown)]).toEqual([
      "the-write_prefix",
      "theoryrunv1",
      "retries-health-and-budgets",
      "runs",
      "runs-1",
    ]);
  });
});
