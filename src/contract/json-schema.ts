import { z } from "zod";
import { AgentFrameSchema, ControlFrameSchema } from "./agent-frames.ts";
import { EndpointRegistrationSchema, RunPageSchema, RunRequestSchema, RunResourceSchema } from "./api.ts";
import { ApiErrorSchema, EnvelopeSchema, OutputIndexSchema } from "./envelope.ts";
import { ClientFrameSchema, ProcessorFrameSchema } from "./frames.ts";
import { openApiDocument } from "./openapi.ts";
import { ProcessorPayloadSchema } from "./payload.ts";
import { ToolRegistrySchema } from "./tool-registry.ts";

/**
 * The contract for non-TypeScript clients and processors: one JSON Schema file per wire shape.
 * Cross-field rules (refinements) are not expressible here; the zod schemas remain authoritative.
 */
const SCHEMAS = {
  "tool-registry.schema.json": ToolRegistrySchema,
  "run-request.schema.json": RunRequestSchema,
  "run-resource.schema.json": RunResourceSchema,
  "run-page.schema.json": RunPageSchema,
  "endpoint-registration.schema.json": EndpointRegistrationSchema,
  "processor-payload.schema.json": ProcessorPayloadSchema,
  "envelope.schema.json": EnvelopeSchema,
  "api-error.schema.json": ApiErrorSchema,
  "output-index.schema.json": OutputIndexSchema,
  "run-client-frame.schema.json": ClientFrameSchema,
  "run-processor-frame.schema.json": ProcessorFrameSchema,
  "agent-frame.schema.json": AgentFrameSchema,
  "control-frame.schema.json": ControlFrameSchema,
} as const;

/**
 * File name -> the exact text checked in under schema/: the JSON Schemas, and the OpenAPI document
 * the control plane serves at /openapi.json (for generating clients without running it).
 */
export function jsonSchemaFiles(): Record<string, string> {
  return {
    ...Object.fromEntries(
      Object.entries(SCHEMAS).map(([file, schema]) => [
        file,
        `${JSON.stringify({ $id: file, ...z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) }, null, 2)}\n`,
      ]),
    ),
    "openapi.json": `${JSON.stringify(openApiDocument(), null, 2)}\n`,
  };
}
