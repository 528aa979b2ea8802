import { z } from "zod";
import { refSlug } from "../ref.ts";
import type { ToolDefinition } from "./definition.ts";

/** A zod schema as JSON Schema (2020-12), as a client sends it: the one conversion the contract uses. */
export const toJsonSchema = (schema: z.ZodType) =>
  z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;

/** What a tool's `inputs` must be: `{"schema": version, "params": …}`, one branch per version. */
export function toolInputsJsonSchema(definition: ToolDefinition): Record<string, unknown> {
  const versions = Object.entries(definition.inputs).map(([version, params]) =>
    z.strictObject({ schema: z.literal(version), params }),
  );
  const [first, ...rest] = versions;
  const inputs = rest.length === 0 ? (first as z.ZodType) : z.union([first as z.ZodType, ...rest]);
  const { $schema: _dialect, ...root } = toJsonSchema(inputs);
  return { title: definition.ref, ...root };
}

/**
 * A tool's schema document (schema/tools/{ref_slug}.json): the root validates the tool's `inputs`;
 * `$defs.outputs` names the paths it may write. Served by `GET /v1/tools/{ref}` too.
 */
export function toolJsonSchema(definition: ToolDefinition): Record<string, unknown> {
  const { title, ...inputs } = toolInputsJsonSchema(definition);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: `tools/${refSlug(definition.ref)}.json`,
    title,
    ...inputs,
    $defs: { ...(inputs.$defs as object | undefined), outputs: { enum: [...definition.outputs] } },
  };
}
