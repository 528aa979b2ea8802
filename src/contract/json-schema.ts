import { AgentFrameSchema, ControlFrameSchema } from "./agent-frames.ts";
import { EndpointRegistrationSchema, RunPageSchema, RunRequestSchema, RunResourceSchema } from "./api.ts";
import { ApiErrorSchema, EnvelopeSchema, OutputIndexSchema } from "./envelope.ts";
import { ClientFrameSchema, ProcessorFrameSchema } from "./frames.ts";
import { openApiDocument } from "./openapi.ts";
import { ProcessorPayloadSchema } from "./payload.ts";
import { refSlug } from "./ref.ts";
import { ToolRegistrySchema } from "./tool-registry.ts";
import { TOOL_DEFINITIONS } from "./tools/index.ts";
import { toJsonSchema, toolJsonSchema } from "./tools/json-schema.ts";

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
 * File name (relative to schema/) -> the exact text checked in under schema/: the JSON Schemas, each
 * tool's schema document, and the OpenAPI document the control plane serves at /openapi.json (for
 * generating clients without running it).
 */
export function jsonSchemaFiles(): Record<string, string> {
  const wire = Object.entries(SCHEMAS).map(([file, schema]) => [
    file,
    { $id: file, ...toJsonSchema(schema) },
  ]);
  const tools = Object.values(TOOL_DEFINITIONS).map((definition) => [
    `tools/${refSlug(definition.ref)}.json`,
    toolJsonSchema(definition),
  ]);
  const openapi = ["openapi.json", openApiDocument()];
  return Object.fromEntries(
    [...wire, ...tools, openapi].map(([file, document]) => [file, `${JSON.stringify(document, null, 2)}\n`]),
  );
}
