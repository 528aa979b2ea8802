import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { jsonSchemaFiles } from "../../src/contract/json-schema.ts";
import {
  errorEnvelope,
  hello,
  localPayload,
  registryDoc,
  runRequest,
  successEnvelope,
} from "../support/examples.ts";

const dir = join(import.meta.dirname, "..", "..", "schema");
const files = jsonSchemaFiles();

describe("checked-in JSON Schemas", () => {
  it("match the zod contract exactly (run `npm run schema:gen` after changing it)", () => {
    const listed = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => relative(dir, join(entry.parentPath, entry.name)));
    expect(listed.sort()).toEqual(Object.keys(files).sort());
    for (const [file, text] of Object.entries(files)) {
      expect(readFileSync(join(dir, file), "utf8"), file).toBe(text);
    }
  });

  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const validator = (file: string) =>
    ajv.getSchema(file) ?? ajv.compile(JSON.parse(readFileSync(join(dir, file), "utf8")));

  it("accept the contract's valid examples for a non-TypeScript validator", () => {
    const cases: [string, unknown][] = [
      ["tool-registry.schema.json", registryDoc()],
      ["run-request.schema.json", runRequest()],
      ["processor-payload.schema.json", localPayload()],
      ["envelope.schema.json", successEnvelope()],
      ["envelope.schema.json", errorEnvelope()],
      ["agent-frame.schema.json", hello()],
    ];
    for (const [file, example] of cases) {
      const validate = validator(file);
      expect(validate(example), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it("reject unknown keys and bad values there too", () => {
    expect(validator("envelope.schema.json")({ ...successEnvelope(), hostname: "box" })).toBe(false);
    expect(validator("run-request.schema.json")({ ...runRequest(), ref: "nope" })).toBe(false);
    expect(validator("agent-frame.schema.json")({ kind: "Shout", content: {} })).toBe(false);
  });
});
