// Bundles the processor into one file plus an empty artifacts folder: the Docker build context.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const out = join(import.meta.dirname, "..", "dist", "processor");
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "artifacts"), { recursive: true });
const result = await build({
  entryPoints: [join(import.meta.dirname, "..", "processor", "main.ts")],
  outfile: join(out, "processor.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  // ws probes these optional native add-ons inside try/catch; the pure JS paths are used without them.
  external: ["bufferutil", "utf-8-validate"],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __theoryRequire } from 'node:module'; const require = __theoryRequire(import.meta.url);",
  },
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
process.stdout.write(`${JSON.stringify({ context: "dist/processor", bundle_bytes: bytes })}\n`);
