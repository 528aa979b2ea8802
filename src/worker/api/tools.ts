import type { OpenAPIHono } from "@hono/zod-openapi";
import type { ToolResource } from "../../contract/api.ts";
import { PLATFORMS } from "../../contract/primitives.ts";
import { RefSchema } from "../../contract/ref.ts";
import { getToolRoute, listToolsRoute } from "../../contract/routes.ts";
import type { ToolRegistry } from "../../contract/tool-registry.ts";
import { TOOL_DEFINITIONS } from "../../contract/tools/index.ts";
import { toolJsonSchema } from "../../contract/tools/json-schema.ts";
import { TheoryError } from "../../core/errors.ts";
import type { AppEnv } from "./context.ts";
import { mount } from "./mount.ts";

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

/** `/v1/tools` (docs/api.md#tools): the tools this control plane can run, with their schemas. */
export function mountTools(app: OpenAPIHono<AppEnv>): void {
  mount(app, listToolsRoute, (c) =>
    c.json({ tools: [...toolResources(c.var.runtime.toolRegistry).values()] }),
  );
  mount(app, getToolRoute, (c) => {
    const { namespace, name } = c.req.valid("param");
    const ref = `${namespace}/${name}`;
    const tool = RefSchema.safeParse(ref).success
      ? toolResources(c.var.runtime.toolRegistry).get(ref)
      : undefined;
    if (!tool) throw new TheoryError("ERR_NOT_FOUND", `no tool ${ref} here`);
    return c.json(tool);
  });
}
