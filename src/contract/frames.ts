import { z } from "zod";
import { EnvelopeSchema } from "./envelope.ts";
import { ProcessorPayloadSchema } from "./payload.ts";
import { RunIdSchema } from "./primitives.ts";

/** theory.run.v1: JSON text frames `{"kind","content"}` between a client and a processor (docs/protocols.md#theoryrunv1). */
export const RUN_SUBPROTOCOL = "theory.run.v1";
export const MAX_FRAME_BYTES = 1024 * 1024;

/**
 * Close codes no endpoint ever sends (1006: the connection ended without a close frame; 1015: TLS
 * failed): a session that ends with one was lost, not closed (docs/protocols.md#lost-connections).
 */
export const isLostConnectionCode = (code: number) => code === 1006 || code === 1015;

/** `{"kind": K, "content": C}`, strict: the shape of every frame on both protocols. */
export const frameSchema = <K extends string, C extends z.ZodType>(kind: K, content: C) =>
  z.strictObject({ kind: z.literal(kind), content });

export const RunOpenFrameSchema = frameSchema(
  "RunOpen",
  z.strictObject({ role: z.literal("client"), payload: ProcessorPayloadSchema }),
);
export const CancelFrameSchema = frameSchema("Cancel", z.strictObject({}));

export const AckFrameSchema = frameSchema("Ack", z.strictObject({ run_id: RunIdSchema }));
export const TokenFrameSchema = frameSchema("Token", z.strictObject({ text: z.string() }));
export const EventFrameSchema = frameSchema(
  "Event",
  z.strictObject({ name: z.string().min(1).max(128), data: z.unknown() }),
);
export const LogFrameSchema = frameSchema(
  "Log",
  z.strictObject({ level: z.enum(["debug", "info", "warn", "error"]), message: z.string() }),
);
export const RunResultFrameSchema = frameSchema("RunResult", EnvelopeSchema);

export const ClientFrameSchema = z.discriminatedUnion("kind", [RunOpenFrameSchema, CancelFrameSchema]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;

export const ProcessorFrameSchema = z.discriminatedUnion("kind", [
  AckFrameSchema,
  TokenFrameSchema,
  EventFrameSchema,
  LogFrameSchema,
  RunResultFrameSchema,
]);
export type ProcessorFrame = z.infer<typeof ProcessorFrameSchema>;
