import type { z } from "zod";
import {
  type Inputs,
  InputsEnvelopeSchema,
  TOOL_DEFINITIONS,
  type ToolDefinition,
} from "../contract/tools/index.ts";
import { TheoryError } from "./errors.ts";
import { describeIssues } from "./validation.ts";

/** The definition of the tool a ref runs; an unknown ref is ERR_INPUTS. */
export function toolDefinition(ref: string): ToolDefinition {
  const definition = TOOL_DEFINITIONS[ref];
  if (!definition) throw new TheoryError("ERR_INPUTS", `no tool definition for ${JSON.stringify(ref)}`);
  return definition;
}

/**
 * Checks a run's inputs against its tool's schema (docs/contract.md#tool-inputs): the
 * `{"schema","params"}` envelope, a version the tool has, and that version's fields. Every failure
 * is ERR_INPUTS naming the fields (`inputs.params.messages[0].role: …`) or the supported versions.
 * Returns the parsed params.
 */
export function checkInputs(
  definition: ToolDefinition,
  inputs: unknown,
): { version: string; params: unknown } {
  const envelope = InputsEnvelopeSchema.safeParse(inputs);
  if (!envelope.success) throw new TheoryError("ERR_INPUTS", describeIssues(envelope.error, ["inputs"]));
  const schema = definition.inputs[envelope.data.schema] as z.ZodType | undefined;
  if (!schema) {
    const supported = Object.keys(definition.inputs).join(", ");
    throw new TheoryError(
      "ERR_INPUTS",
      `inputs.schema: ${definition.ref} has no input schema ${JSON.stringify(envelope.data.schema)} (supported: ${supported})`,
    );
  }
  const params = schema.safeParse(envelope.data.params);
  if (!params.success)
    throw new TheoryError("ERR_INPUTS", describeIssues(params.error, ["inputs", "params"]));
  return { version: envelope.data.schema, params: params.data };
}

export type { Inputs };
