import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const tsc = join(root, "node_modules", ".bin", "tsc");

/**
 * Each runtime's tsconfig (docs/architecture.md) holds a probe file to the same rules as the code it
 * covers: a probe that imports or uses another runtime's API must fail typecheck. The probes live
 * under node_modules/.cache so type libraries resolve as they do for the project.
 */
let dir: string;

beforeAll(async () => {
  await mkdir(join(root, "node_modules", ".cache"), { recursive: true });
  dir = await mkdtemp(join(root, "node_modules", ".cache", "theory-boundaries-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function typecheck(config: string, source: string): Promise<{ ok: boolean; output: string }> {
  const probe = await mkdtemp(join(dir, "probe-"));
  await writeFile(join(probe, "probe.ts"), source);
  const files = ["./probe.ts", ...(config === "worker" ? [join(root, "worker-configuration.d.ts")] : [])];
  await writeFile(
    join(probe, "tsconfig.json"),
    JSON.stringify({ extends: join(root, `tsconfig.${config}.json`), include: [], files }),
  );
  try {
    await exec(tsc, ["--noEmit", "-p", join(probe, "tsconfig.json")]);
    return { ok: true, output: "" };
  } catch (error) {
    return { ok: false, output: String((error as { stdout?: string }).stdout) };
  }
}

const NODE_IMPORT = 'import { readFileSync } from "node:fs";\nexport const read = readFileSync;\n';
const NODE_GLOBAL = "export const here = __dirname;\n";
const WORKERD_IMPORT = 'import { DurableObject } from "cloudflare:workers";\nexport { DurableObject };\n';
const WORKERD_GLOBAL = "export const state: DurableObjectState | undefined = undefined;\n";
const NEUTRAL = 'export const text = new TextEncoder().encode("ok");\n';

describe("one TypeScript config per runtime", () => {
  it.each(["shared", "worker", "node", "dashboard"])(
    "admits runtime-neutral code under %s",
    async (config) => {
      expect(await typecheck(config, NEUTRAL)).toEqual({ ok: true, output: "" });
    },
  );

  it.each([
    { config: "worker", source: NODE_IMPORT, name: "node:fs" },
    { config: "worker", source: NODE_GLOBAL, name: "__dirname" },
    { config: "shared", source: NODE_IMPORT, name: "node:fs" },
    { config: "shared", source: NODE_GLOBAL, name: "__dirname" },
    { config: "shared", source: WORKERD_IMPORT, name: "cloudflare:workers" },
    { config: "shared", source: WORKERD_GLOBAL, name: "DurableObjectState" },
    { config: "node", source: WORKERD_IMPORT, name: "cloudflare:workers" },
    { config: "node", source: WORKERD_GLOBAL, name: "DurableObjectState" },
    { config: "dashboard", source: NODE_IMPORT, name: "node:fs" },
    { config: "dashboard", source: NODE_GLOBAL, name: "__dirname" },
    { config: "dashboard", source: WORKERD_IMPORT, name: "cloudflare:workers" },
    { config: "dashboard", source: WORKERD_GLOBAL, name: "DurableObjectState" },
  ])("refuses, under $config, code that reaches for $name", async ({ config, source, name }) => {
    const result = await typecheck(config, source);
    expect(result.ok).toBe(false);
    expect(result.output).toContain(name);
  });
});
