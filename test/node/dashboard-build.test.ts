import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildDashboard, DASHBOARD_DIR, troubleshootingTable } from "../../scripts/lib/dashboard-build.ts";
import { ERROR_CODES } from "../../src/contract/errors.ts";

// The dashboard's build (wrangler.toml [build]): what it puts in the Worker's static assets. The
// pages themselves are tested in a browser (test/e2e/dashboard.test.ts).
const root = join(import.meta.dirname, "..", "..");

describe("the dashboard build", () => {
  it("takes every code's fix from the README's troubleshooting table", async () => {
    const table = troubleshootingTable(await readFile(join(root, "README.md"), "utf8"));
    expect(Object.keys(table).sort()).toEqual([...ERROR_CODES].sort());
    expect(table.ERR_AUTH?.fix).toContain("mint a token with the scope");
    expect(() => troubleshootingTable("# no table here\n")).toThrow(/no row for ERR_INPUTS/);
  });

  it("writes a small bundle, a page with no inline script or style, and the CSP header file", async () => {
    const files = await buildDashboard();
    expect(Object.keys(files).sort()).toEqual(["_headers", "app.css", "app.js", "favicon.svg", "index.html"]);
    // The typed client brings zod; its locales stay out (about 260 KB more).
    expect(files["app.js"]).toBeLessThan(300_000);
    const html = await readFile(join(DASHBOARD_DIR, "index.html"), "utf8");
    expect(html).toContain('<script type="module" src="/app.js"></script>');
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)/);
    expect(html).not.toMatch(/\sstyle=|<style/);
    const headers = await readFile(join(DASHBOARD_DIR, "_headers"), "utf8");
    const csp = /Content-Security-Policy: (.*)/.exec(headers)?.[1] ?? "";
    expect(csp.split("; ")).toEqual(
      expect.arrayContaining([
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
      ]),
    );
    expect(csp).not.toContain("unsafe");
    const bundle = await readFile(join(DASHBOARD_DIR, "app.js"), "utf8");
    expect(bundle).toContain("mint a token with the scope");
  });
});
