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

describe("routes mounted from their definitions keep the API's own checks", () => {
  const post = (contentType: string, body: string) =>
    api("/v1/runs", { method: "POST", body, headers: { "Content-Type": contentType } });

  it("any application/json spelling reaches the body's schema (422 naming the field)", async () => {
    for (const type of [
      "application/json",
      "application/json; charset=utf-8",
      "application/json ; charset=utf-8",
    ]) {
      const response = await post(type, JSON.stringify({ mode: "mock" }));
      expect(response.status, type).toBe(422);
      expect(await response.json()).toMatchObject({
        status: "error",
        error: { code: "ERR_INPUTS", message: expect.stringContaining("ref") },
      });
    }
  });

  it("another media type is 415 ERR_INPUTS, a bad query 400, a malformed run id 404: each an error envelope", async () => {
    const wrongType = await post("text/plain", "{}");
    expect([wrongType.status, ((await wrongType.json()) as any).error.code]).toEqual([415, "ERR_INPUTS"]);
    const badQuery = await api("/v1/runs?limit=0", { token: "reader" });
    expect([badQuery.status, ((await badQuery.json()) as any).error.code]).toEqual([400, "ERR_INPUTS"]);
    const badId = await api("/v1/runs/bad..id/envelope");
    expect([badId.status, ((await badId.json()) as any).error.code]).toEqual([404, "ERR_NOT_FOUND"]);
  });
});
