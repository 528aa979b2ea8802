import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { RunRequestSchema } from "../../src/contract/api.ts";
import { openApiDocument, toolInputsComponent } from "../../src/contract/openapi.ts";
import { createRunRoute, ROUTES } from "../../src/contract/routes.ts";
import { TOOL_DEFINITIONS } from "../../src/contract/tools/index.ts";
import { toolJsonSchema } from "../../src/contract/tools/json-schema.ts";
import { runRequest } from "../support/examples.ts";

// The served document is this one (test/worker/openapi.test.ts checks that, and that every route
// the Worker serves is in it); here it is validated against the OpenAPI 3.1 schema.
const document = openApiDocument();
type Operation = {
  security?: Record<string, string[]>[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
};
const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
  Object.entries(item as Record<string, Operation>).map(([method, operation]) => ({
    path,
    method,
    operation,
  })),
);

describe("the OpenAPI document", () => {
  it("references every tool's inputs schema: a run request's inputs are one of them", () => {
    const schemas = document.components?.schemas as Record<string, Record<string, unknown>>;
    const request = schemas.RunRequest as { properties: Record<string, { anyOf?: { $ref: string }[] }> };
    const inputs = request.properties.inputs;
    expect(inputs?.anyOf).toEqual(
      Object.keys(TOOL_DEFINITIONS)
        .sort()
        .map((ref) => ({ $ref: `#/components/schemas/${toolInputsComponent(ref)}` })),
    );
    for (const definition of Object.values(TOOL_DEFINITIONS)) {
      // The same schema as the tool's own document (schema/tools/), without its file's identity and outputs.
      const { $schema, $id, $defs, ...file } = toolJsonSchema(definition);
      const { outputs, ...otherDefs } = $defs as Record<string, unknown>;
      expect(outputs).toBeDefined();
      expect(schemas[toolInputsComponent(definition.ref)]).toEqual({
        ...file,
        ...(Object.keys(otherDefs).length ? { $defs: otherDefs } : {}),
      });
    }
  });

  it("is a valid OpenAPI 3.1 document", async () => {
    const result = await new Validator().validate(structuredClone(document) as never);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(document.openapi).toBe("3.1.0");
  });

  it("a broken document is refused by the same validator", async () => {
    const broken = structuredClone(document) as unknown as {
      paths: Record<string, Record<string, { responses: Record<string, { description?: string }> }>>;
    };
    // A response object must say what it is.
    delete broken.paths["/v1/runs"]?.get?.responses["200"]?.description;
    expect((await new Validator().validate(broken as never)).valid).toBe(false);
  });

  it("has one operation per route, each with its scope and the error envelope on every error status", () => {
    expect(operations).toHaveLength(ROUTES.length);
    for (const { path, method, operation } of operations) {
      const where = `${method.toUpperCase()} ${path}`;
      const open = ["/healthz", "/openapi.json", "/v1/hooks/ci"].includes(path);
      expect(operation.security, where).toEqual(open ? [] : [{ bearer: [expect.stringMatching(/:/)] }]);
      const statuses = Object.keys(operation.responses);
      if (path.startsWith("/v1/")) expect(statuses, where).toEqual(expect.arrayContaining(["401", "500"]));
      for (const status of statuses.filter((s) => Number(s) >= 400)) {
        expect(
          operation.responses[status]?.content?.["application/json"]?.schema,
          `${where} ${status}`,
        ).toEqual({
          $ref: "#/components/schemas/ApiError",
        });
      }
    }
    expect(document.components?.securitySchemes?.bearer).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("names the scopes the Worker enforces", () => {
    const scopes = Object.fromEntries(
      operations.map(({ path, method, operation }) => [
        `${method} ${path}`,
        operation.security?.[0]?.bearer?.[0],
      ]),
    );
    expect(scopes).toMatchObject({
      "get /v1/runs": "runs:read",
      "post /v1/runs": "runs:write",
      "get /v1/runs/{id}/outputs/{path}": "runs:read",
      "put /v1/endpoints/{namespace}/{name}": "endpoints:write",
      "get /v1/agents/connect": "agents:connect",
    });
  });

  it("describes a body with the very schema the route validates with", () => {
    const schema = createRunRoute.request.body.content["application/json"].schema;
    const cases = [runRequest(), { ...runRequest(), mode: "fake" }, { ...runRequest(), target: "modal" }];
    for (const value of cases)
      expect(schema.safeParse(value).success).toBe(RunRequestSchema.safeParse(value).success);
    expect(document.components?.schemas?.RunRequest).toMatchObject({
      required: expect.arrayContaining(["ref", "mode", "inputs", "target", "artifact_scope"]),
    });
  });
});
