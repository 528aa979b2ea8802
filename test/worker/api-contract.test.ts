import { describe, expect, it } from "vitest";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { ApiErrorSchema } from "../../src/contract/envelope.ts";
import { TEST_PROCESSOR_TOKEN } from "../support/tokens.ts";
import { api, runRequest, uniqueRunId } from "./support.ts";

async function expectError(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  const body = ApiErrorSchema.parse(await response.json());
  expect(body.error.code).toBe(code);
  return body;
}

describe("API contract", () => {
  it("GET /healthz needs no token", async () => {
    const response = await api("/healthz", { token: null });
    expect(await response.json()).toEqual({ ok: true });
  });

  describe("auth", () => {
    it("no token -> 401, unknown token -> 401, missing scope -> 403", async () => {
      await expectError(await api("/v1/runs/x", { token: null }), 401, "ERR_AUTH");
      await expectError(
        await api("/v1/runs/x", { token: null, headers: { Authorization: "Bearer not-a-real-token" } }),
        401,
        "ERR_AUTH",
      );
      await expectError(
        await api("/v1/runs/x", { token: null, headers: { Authorization: "Basic abc" } }),
        401,
        "ERR_AUTH",
      );
      const forbidden = await expectError(
        await api("/v1/runs", { method: "POST", token: "reader", json: runRequest("a") }),
        403,
        "ERR_AUTH",
      );
      expect(forbidden.error.message).toContain("runs:write");
    });

    it("a token with the scope passes", async () => {
      const response = await api(`/v1/runs/${uniqueRunId("none")}`, { token: "reader" });
      await expectError(response, 404, "ERR_NOT_FOUND");
    });
  });

  describe("POST /v1/runs body", () => {
    it("wrong content-type -> 415", async () => {
      await expectError(
        await api("/v1/runs", { method: "POST", body: "{}", headers: { "Content-Type": "text/plain" } }),
        415,
        "ERR_INPUTS",
      );
    });
    it("malformed JSON -> 400", async () => {
      await expectError(
        await api("/v1/runs", {
          method: "POST",
          body: "{oops",
          headers: { "Content-Type": "application/json" },
        }),
        400,
        "ERR_INPUTS",
      );
    });
    it("over 1 MiB -> 413", async () => {
      const big = runRequest("big", { inputs: llmInputs("x".repeat(1024 * 1024)) });
      await expectError(await api("/v1/runs", { method: "POST", json: big }), 413, "ERR_INPUTS");
    });
    it("schema violation -> 422 naming the field", async () => {
      const body = await expectError(
        await api("/v1/runs", { method: "POST", json: runRequest("r", { mode: "fake" }) }),
        422,
        "ERR_INPUTS",
      );
      expect(body.error.message).toContain("mode");
    });
    it("unknown ref -> 422, and no run is created", async () => {
      const runId = uniqueRunId("unknown-ref");
      const body = await expectError(
        await api("/v1/runs", { method: "POST", json: runRequest(runId, { ref: "no/such@1" }) }),
        422,
        "ERR_INPUTS",
      );
      expect(body.run_id).toBe(runId);
      await expectError(await api(`/v1/runs/${runId}`), 404, "ERR_NOT_FOUND");
    });
  });

  it("unknown run -> 404 on every run route; malformed id -> 404", async () => {
    const runId = uniqueRunId("ghost");
    for (const path of ["", "/envelope", "/receipt", "/events"])
      await expectError(await api(`/v1/runs/${runId}${path}`), 404, "ERR_NOT_FOUND");
    await expectError(await api(`/v1/runs/${runId}/cancel`, { method: "POST" }), 404, "ERR_NOT_FOUND");
    await expectError(await api("/v1/runs/bad..id"), 404, "ERR_NOT_FOUND");
  });

  it("unknown route -> 404 ERR_NOT_FOUND", async () => {
    await expectError(await api("/v2/anything"), 404, "ERR_NOT_FOUND");
  });
});

describe("GET /v1/whoami", () => {
  it("answers the token's grant: name and scopes, never its hash", async () => {
    const admin = await api("/v1/whoami");
    expect(admin.status).toBe(200);
    expect(await admin.json()).toEqual({
      name: "admin",
      scopes: ["runs:write", "runs:read", "endpoints:write"],
    });
    expect(await (await api("/v1/whoami", { token: "reader" })).json()).toEqual({
      name: "reader",
      scopes: ["runs:read"],
    });
  });

  it("no token -> 401, a token without runs:read -> 403", async () => {
    await expectError(await api("/v1/whoami", { token: null }), 401, "ERR_AUTH");
    await expectError(await api("/v1/whoami", { token: "agent" }), 403, "ERR_AUTH");
  });
});

describe("endpoints", () => {
  const digest = `sha256:${"c".repeat(64)}`;

  it("GET /v1/endpoints lists each registration by ref as its GET shows it: never the token", async () => {
    const listed = async () =>
      ((await (await api("/v1/endpoints")).json()) as { endpoints: Record<string, unknown>[] }).endpoints;
    await api("/v1/endpoints/echo/text@1", { method: "DELETE" });
    expect((await listed()).map((endpoint) => endpoint.ref)).not.toContain("echo/text@1");
    const put = await api("/v1/endpoints/echo/text@1", {
      method: "PUT",
      json: {
        url: "https://echo--app.modal.run",
        image_digest: digest,
        processor_token: TEST_PROCESSOR_TOKEN,
      },
    });
    expect(put.status).toBe(200);
    const endpoints = await listed();
    expect(JSON.stringify(endpoints)).not.toContain(TEST_PROCESSOR_TOKEN);
    expect(endpoints.find((endpoint) => endpoint.ref === "echo/text@1")).toEqual({
      ref: "echo/text@1",
      url: "https://echo--app.modal.run",
      image_digest: digest,
    });
    expect(endpoints.map((endpoint) => endpoint.ref)).toEqual(
      endpoints.map((endpoint) => endpoint.ref).sort(),
    );
    await api("/v1/endpoints/echo/text@1", { method: "DELETE" });
    await expectError(await api("/v1/endpoints", { token: "reader" }), 403, "ERR_AUTH");
    await expectError(await api("/v1/endpoints", { token: null }), 401, "ERR_AUTH");
  });

  it("PUT registers, GET reads it back, DELETE removes it", async () => {
    const put = await api("/v1/endpoints/echo/text@1", {
      method: "PUT",
      json: {
        url: "https://echo--app.modal.run/",
        image_digest: digest,
        processor_token: TEST_PROCESSOR_TOKEN,
      },
    });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({
      ref: "echo/text@1",
      url: "https://echo--app.modal.run",
      image_digest: digest,
    });
    expect(await (await api("/v1/endpoints/echo/text@1")).json()).toMatchObject({
      url: "https://echo--app.modal.run",
    });
    expect((await api("/v1/endpoints/echo/text@1", { method: "DELETE" })).status).toBe(204);
    await expectError(await api("/v1/endpoints/echo/text@1"), 404, "ERR_NOT_FOUND");
    await expectError(await api("/v1/endpoints/echo/text@1", { method: "DELETE" }), 404, "ERR_NOT_FOUND");
  });

  it.each([
    ["plain http off loopback", "http://10.0.0.5:8000"],
    ["credentials in the URL", "https://user:pw@x.modal.run"],
    ["a query string", "https://x.modal.run/?a=1"],
    ["another scheme", "ftp://x.modal.run"],
  ])("refuses %s (422)", async (_name, url) => {
    await expectError(
      await api("/v1/endpoints/echo/text@1", {
        method: "PUT",
        json: { url, image_digest: digest, processor_token: TEST_PROCESSOR_TOKEN },
      }),
      422,
      "ERR_INPUTS",
    );
  });

  it("unknown ref -> 404; a token without endpoints:write -> 403", async () => {
    await expectError(
      await api("/v1/endpoints/no/such@1", {
        method: "PUT",
        json: { url: "https://x.modal.run", image_digest: digest, processor_token: TEST_PROCESSOR_TOKEN },
      }),
      404,
      "ERR_NOT_FOUND",
    );
    await expectError(await api("/v1/endpoints/echo/text@1", { token: "writer" }), 403, "ERR_AUTH");
  });
});
