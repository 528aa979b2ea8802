import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { bundledToolRegistry } from "../../src/worker/tool-registry.ts";

describe("Worker", () => {
  it("answers /healthz", async () => {
    const response = await exports.default.fetch("https://theory.test/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("answers an unknown path with 404", async () => {
    const response = await exports.default.fetch("https://theory.test/nope");
    expect(response.status).toBe(404);
  });

  it("bundles registry.yaml as a text module and parses it with the shared loader", () => {
    const registry = bundledToolRegistry();
    expect(Object.keys(registry.tools).sort()).toEqual(["echo/text@1", "llm/litellm@1"]);
    expect(bundledToolRegistry()).toBe(registry);
  });
});
