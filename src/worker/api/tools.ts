import { type Context, Hono } from "hono";
import type { ToolResource } from "../../contract/api.ts";
import { toolJsonSchema } from "../../contract/json-schema.ts";
import { PLATFORMS } from "../../contract/primitives.ts";
import { RefSchema } from "../../contract/ref.ts";
import type { ToolRegistry } from "../../contract/tool-registry.ts";
import { TOOL_DEFINITIONS } from "../../contract/tools/index.ts";
import { TheoryError } from "../../core/errors.ts";
import type { AppEnv } from "./context.ts";
import { requireScope } from "./middleware.ts";

const resources = new WeakMap<ToolRegistry, Map<string, ToolResource>>();

/** Every tool the registry lists, described once per isolate (the JSON Schemas are made from zod). */
function toolResources(registry: ToolRegistry): Map<string, ToolResource> {
  let byRef = resources.get(registry);
  if (byRef) return byRef;
  byRef = new Map();
  for (const [ref, entry] of Object.entries(registry.tools).sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Only what can run here: a ref this build defines no tool for is not listed.
    const definition = TOOL_DEFINITIONS[ref];
    if (!definition) continue;
    byRef.set(ref, {
      ref,
      schemas: Object.keys(definition.inputs),
      json_schema: toolJsonSchema(definition),
      outputs: [...definition.outputs],
      resources: entry.resources,
      timeout_s: entry.timeout_s,
      secrets: entry.secrets,
      platforms: PLATFORMS.flatMap((platform) => {
        const digest = entry.digests[platform];
        return digest ? [{ platform, image_digest: digest }] : [];
      }),
    });
  }
  resources.set(registry, byRef);
  return byRef;
}

function refParam(c: Context<AppEnv>): string {
  const ref = `${c.req.param("namespace")}/${c.req.param("name")}`;
  if (!RefSchema.safeParse(ref).success) throw new TheoryError("ERR_NOT_FOUND", `not a ref: ${ref}`);
  return ref;
}

/** The tools this control plane can run, with the schemas their inputs are checked against. */
export const tools = new Hono<AppEnv>()
  .get("/", requireScope("runs:read"), (c) =>
    c.json({ tools: [...toolResources(c.var.runtime.toolRegistry).values()] }),
  )
  .get("/:namespace/:name", requireScope("runs:read"), (c) => {
    const ref = refParam(c);
    const tool = toolResources(c.var.runtime.toolRegistry).get(ref);
    if (!tool) throw new TheoryError("ERR_NOT_FOUND", `no tool ${ref} here`);
    return c.json(tool);
  });
