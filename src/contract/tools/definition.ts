import { z } from "zod";
import { OUTPUT_INDEX, RelativePathSchema } from "../primitives.ts";
import { RefSchema } from "../ref.ts";

/**
 * A tool's contract (docs/contract.md#tool-inputs): the inputs each schema version takes (the
 * `params` of `{"schema": version, "params": {…}}`) and the outputs it may write. Defined once here,
 * imported by the processor that runs the tool and by the control plane that checks a run's inputs
 * before dispatching it, and exported as JSON Schema (schema/tools/).
 */
export interface ToolDefinition {
  ref: string;
  /** Version name (`v1`, …) -> the schema of `params` for that version. */
  inputs: Readonly<Record<string, z.ZodType>>;
  /** Every path (relative to the run prefix) the tool may write. */
  outputs: readonly string[];
}

/** What every tool's inputs look like: a schema version and the tool's own fields. */
export const InputsEnvelopeSchema = z.strictObject({
  schema: z.string().regex(/^v[1-9][0-9]*$/, "must name an input schema version such as v1"),
  params: z.record(z.string(), z.unknown()),
});
export type Inputs = z.infer<typeof InputsEnvelopeSchema>;

/** The JSON Schema file of a tool under schema/tools/ (its inputs per version and its outputs). */
export const toolSchemaFile = (slug: string) => `schema/tools/${slug}.json`;

/** A definition's outputs: relative paths below the run prefix, unique, never the index's name. */
export const ToolOutputsSchema = z
  .array(
    RelativePathSchema.refine((path) => path !== OUTPUT_INDEX, `${OUTPUT_INDEX} is reserved for the index`),
  )
  .min(1)
  .refine((paths) => new Set(paths).size === paths.length, "outputs must be unique");

/** Checks a definition's ref and outputs (a mistake there is a programming error: it throws). */
export const defineTool = <D extends ToolDefinition>(definition: D): D => {
  RefSchema.parse(definition.ref);
  ToolOutputsSchema.parse(definition.outputs);
  return definition;
};
