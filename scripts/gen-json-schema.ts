// Writes schema/*.json from the zod contract. `npm test` fails when they drift.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { jsonSchemaFiles } from "../src/contract/json-schema.ts";

const dir = join(import.meta.dirname, "..", "schema");
rmSync(dir, { recursive: true, force: true });
for (const [file, text] of Object.entries(jsonSchemaFiles())) {
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file), text);
}
process.stdout.write(
  `${JSON.stringify({ written: Object.keys(jsonSchemaFiles()).length, dir: "schema/" })}\n`,
);
