import { describe, expect, it } from "vitest";
import { openApiDocument } from "../../src/contract/openapi.ts";
import app from "../../src/worker/index.ts";
import { api } from "./support.ts";

// test/node/openapi.test.ts validates this document against the OpenAPI 3.1 schema; here: the
// Worker serves exactly it, and every route the Worker serves is in it (and nothing else is).
const METHODS = ["get", "put", "post", "delete", "patch"];

/** `/v1/runs/:id/outputs/:path{.+}` -> `/v1/runs/{id}/outputs/{path}`. */
const openApiPath = (honoPath: string) => honoPath.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}");

function served(): string[] {
  const routes = app.routes
    .filter((route) => route.method !== "ALL")
    .map((route) => `${route.method.toLowerCase()} ${openApiPath(route.path)}`);
  return [...new Set(routes)].sort();
}

function documented(document: { paths?: Record<string, object> }): string[] {
  return Object.entries(document.paths ?? {})
    .flatMap(([path, item]) =>
      Object.keys(item)
        .filter((method) => METHODS.includes(method))
        .map((method) => `${method} ${path}`),
    )
    .sort();
}

describe("GET /openapi.json", () => {
  it("serves the generated document without a token", async () => {
    const response = await api("/openapi.json", { token: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("application/json");
    const served = await response.json();
    expect(served).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it("documents every route the Worker serves, and only those", async () => {
    const document = (await (await api("/openapi.json", { token: null })).json()) as {
      paths?: Record<string, object>;
    };
    expect(served().length).toBeGreaterThan(10);
    expect(documented(document)).toEqual(served());
  });

  it("a path it does not document is not served", async () => {
    const document = documented(openApiDocument());
    expect(document).not.toContain("get /v1/runs/{id}/outputs");
    const response = await api("/v1/runs/some-run/outputs");
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { code: "ERR_NOT_FOUND" } });
  });
});
