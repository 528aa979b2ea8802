import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lookupTool, parseToolRegistry } from "../../src/core/tool-registry.ts";

const text = readFileSync(join(import.meta.dirname, "..", "..", "registry.yaml"), "utf8");

describe("registry.yaml (read from the file, as the CLI does)", () => {
  it("holds the two real tools", () => {
    const registry = parseToolRegistry(text);
    expect(Object.keys(registry.tools).sort()).toEqual(["echo/text@1", "llm/litellm@1"]);
    expect(lookupTool(registry, "llm/litellm@1").secrets).toContain("LITELLM_API_KEY");
  });

  it("gives every tool its own port, so several can run on one host network", () => {
    const ports = Object.values(parseToolRegistry(text).tools).map((tool) => tool.port);
    expect(new Set(ports).size).toBe(ports.length);
  });
});
