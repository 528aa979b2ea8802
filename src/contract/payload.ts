import { z } from "zod";
import {
  HttpUrlSchema,
  ModeSchema,
  OUTPUT_INDEX,
  RelativePathSchema,
  RunIdSchema,
  WorldIdSchema,
  WritePrefixSchema,
} from "./primitives.ts";
import { InputsEnvelopeSchema } from "./tools/definition.ts";

/**
 * What the orchestrator sends a processor (docs/contract.md#the-processor-payload). `outputs` present means world scope: one
 * presigned PUT URL per declared output and for the index; `world_id` names the world the
 * envelope's `world://` URIs point into (the processor cannot know it otherwise).
 */
export const ProcessorPayloadSchema = z
  .strictObject({
    run_id: RunIdSchema,
    mode: ModeSchema,
    inputs: InputsEnvelopeSchema,
    write_prefix: WritePrefixSchema,
    outputs: z.record(RelativePathSchema, HttpUrlSchema).optional(),
    world_id: WorldIdSchema.optional(),
    settle: z.literal("fast"),
  })
  .superRefine((payload, ctx) => {
    if ((payload.outputs === undefined) !== (payload.world_id === undefined)) {
      ctx.addIssue({ code: "custom", path: ["world_id"], message: "world_id and outputs go together" });
    }
    if (payload.outputs && !(OUTPUT_INDEX in payload.outputs)) {
      ctx.addIssue({ code: "custom", path: ["outputs"], message: `outputs must include ${OUTPUT_INDEX}` });
    }
  });
export type ProcessorPayload = z.infer<typeof ProcessorPayloadSchema>;
