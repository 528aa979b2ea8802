import { z } from "zod";
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

export const defineTool = <D extends ToolDefinition>(definition: D): D => {
  RefSchema.parse(definition.ref);
  return definition;
};
