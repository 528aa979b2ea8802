// Writes schema/*.json from the zod contract. `npm test` fails when they drift.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jsonSchemaFiles } from "../src/contract/json-schema.ts";

const dir = join(import.meta.dirname, "..", "schema");
mkdirSync(dir, { recursive: true });
for (const stale of readdirSync(dir)) rmSync(join(dir, stale));
for (const [file, text] of Object.entries(jsonSchemaFiles())) writeFileSync(join(dir, file), text);
process.stdout.write(
  `${JSON.stringify({ written: Object.keys(jsonSchemaFiles()).length, dir: "schema/" })}\n`,
);
