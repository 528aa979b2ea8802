// Builds the dashboard (dashboard/) into dist/dashboard/, the Worker's static assets
// (wrangler.toml [assets]). `wrangler dev` and `wrangler deploy` run it first ([build]); the test
// config runs it too, since the Workers test integration reads wrangler.toml without building.
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { build, type Plugin } from "esbuild";
import { ERROR_CODES } from "../../src/contract/errors.ts";

const root = join(import.meta.dirname, "..", "..");
const source = join(root, "dashboard");
export const DASHBOARD_DIR = join(root, "dist", "dashboard");

/** Served as they are: the page, its icon, and the security headers Cloudflare's asset server applies. */
const STATIC_FILES = ["index.html", "favicon.svg", "_headers"];

/** One row of the README's "Troubleshooting by error code" table. */
export interface Troubleshooting {
  cause: string;
  fix: string;
}

/**
 * The README's troubleshooting table, by code: the dashboard shows each error with the README's own
 * fix, so the two never disagree. A code without a row fails the build.
 */
export function troubleshootingTable(readme: string): Record<string, Troubleshooting> {
  const section = readme.split(/^## Troubleshooting by error code$/m)[1]?.split(/^## /m)[0] ?? "";
  const table: Record<string, Troubleshooting> = {};
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const code = /^(ERR_[A-Z_]+)$/.exec(cells[1] ?? "")?.[1];
    if (code) table[code] = { cause: cells[2] ?? "", fix: cells[3] ?? "" };
  }
  const missing = ERROR_CODES.filter((code) => !table[code]);
  if (missing.length > 0)
    throw new Error(`README.md's troubleshooting table has no row for ${missing.join(", ")}`);
  return table;
}

/**
 * zod's namespace object carries every locale it ships (about 260 KB minified); the dashboard never
 * switches locale, so its bundle keeps English only (the one zod registers by default).
 */
const englishOnlyZod: Plugin = {
  name: "zod-english-only",
  setup(builder) {
    builder.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${sep}zod${sep}`)
        ? { path: join(args.resolveDir, "..", "locales", "en.js"), namespace: "zod-locales" }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: dirname(args.path),
    }));
  },
};

/** Whole or not at all: several `wrangler dev` may build at once while another serves the files. */
async function writeWhole(file: string, contents: Uint8Array | string): Promise<void> {
  const partial = `${file}.${process.pid}-${randomBytes(4).toString("hex")}.partial`;
  await writeFile(partial, contents);
  await rename(partial, file);
}

/** Bundles the browser code and styles and copies the static files; the bytes written, by file. */
export async function buildDashboard(): Promise<Record<string, number>> {
  const troubleshooting = troubleshootingTable(await readFile(join(root, "README.md"), "utf8"));
  const result = await build({
    entryPoints: [
      { in: join(source, "main.ts"), out: "app" },
      { in: join(source, "styles.css"), out: "app" },
    ],
    outdir: DASHBOARD_DIR,
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    define: { THEORY_TROUBLESHOOTING: JSON.stringify(troubleshooting) },
    plugins: [englishOnlyZod],
    logLevel: "warning",
  });
  await mkdir(DASHBOARD_DIR, { recursive: true });
  const written: Record<string, number> = {};
  for (const output of result.outputFiles) {
    await writeWhole(output.path, output.contents);
    written[output.path.slice(DASHBOARD_DIR.length + 1)] = output.contents.byteLength;
  }
  for (const name of STATIC_FILES) {
    const contents = await readFile(join(source, name));
    await writeWhole(join(DASHBOARD_DIR, name), contents);
    written[name] = contents.byteLength;
  }
  return written;
}
