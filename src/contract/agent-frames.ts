import { z } from "zod";
import { type ErrorBody, ErrorBodySchema } from "./envelope.ts";
import { ErrorCodeSchema } from "./errors.ts";
import { frameSchema, MAX_FRAME_BYTES } from "./frames.ts";
import { AgentIdSchema, DigestSchema, PlatformSchema, RunIdSchema } from "./primitives.ts";
import { RefSchema } from "./ref.ts";

/**
 * theory.agent.v1: frames on the tunnel between a local agent and its AgentTunnel (docs/protocols.md#theoryagentv1). Run
 * frames are relayed as their original text, so the control plane sees exactly what the processor
 * said, byte for byte.
 */
export const AGENT_SUBPROTOCOL = "theory.agent.v1";

export const AgentToolSchema = z.strictObject({
  ref: RefSchema,
  image_digest: DigestSchema,
  healthy: z.boolean(),
});
export type AgentTool = z.infer<typeof AgentToolSchema>;

export const HelloFrameSchema = frameSchema(
  "Hello",
  z.strictObject({ agent_id: AgentIdSchema, platform: PlatformSchema, tools: z.array(AgentToolSchema) }),
);
/** Heartbeats have fixed bytes so a hibernating Durable Object can auto-answer them. */
export const PingFrameSchema = frameSchema("Ping", z.strictObject({}));
export const PongFrameSchema = frameSchema("Pong", z.strictObject({}));
export const HEARTBEAT_PING = JSON.stringify({ kind: "Ping", content: {} });
export const HEARTBEAT_PONG = JSON.stringify({ kind: "Pong", content: {} });

/** A theory.run.v1 frame in either direction, carried as its exact text. */
export const RelayFrameSchema = frameSchema(
  "Relay",
  z.strictObject({ run_id: RunIdSchema, data: z.string().max(MAX_FRAME_BYTES) }),
);
/**
 * Several theory.run.v1 frames of one run, in order, each as its exact text: the agent sends the
 * frames a processor wrote in one go as one message (the control plane hands each on alone).
 * Together at most RELAY_BATCH_MAX_BYTES; a larger frame travels alone in a Relay.
 */
export const RELAY_BATCH_MAX_BYTES = 256 * 1024;
export const RelayBatchFrameSchema = frameSchema(
  "RelayBatch",
  z.strictObject({ run_id: RunIdSchema, frames: z.array(z.string().max(RELAY_BATCH_MAX_BYTES)).min(1) }),
);
export const RunClosedFrameSchema = frameSchema(
  "RunClosed",
  z.strictObject({ run_id: RunIdSchema, code: z.int().min(1000).max(4999), reason: z.string().max(123) }),
);
export const DispatchFailedFrameSchema = frameSchema(
  "DispatchFailed",
  z.strictObject({ run_id: RunIdSchema, error: ErrorBodySchema }),
);
export const DispatchFrameSchema = frameSchema(
  "Dispatch",
  z.strictObject({ run_id: RunIdSchema, ref: RefSchema }),
);
export const CloseRunFrameSchema = frameSchema("CloseRun", z.strictObject({ run_id: RunIdSchema }));

/** agent -> control plane */
export const AgentFrameSchema = z.discriminatedUnion("kind", [
  HelloFrameSchema,
  PingFrameSchema,
  RelayFrameSchema,
  RelayBatchFrameSchema,
  RunClosedFrameSchema,
  DispatchFailedFrameSchema,
]);
export type AgentFrame = z.infer<typeof AgentFrameSchema>;

/** control plane -> agent */
export const ControlFrameSchema = z.discriminatedUnion("kind", [
  PongFrameSchema,
  DispatchFrameSchema,
  RelayFrameSchema,
  CloseRunFrameSchema,
]);
export type ControlFrame = z.infer<typeof ControlFrameSchema>;

/** On the AgentTunnel's answer to a run's socket: the digest the agent's Hello reported for the tool. */
export const IMAGE_DIGEST_HEADER = "X-Theory-Image-Digest";

/**
 * Close code of a relayed run socket that ended with a taxonomy error (agent lost, container not
 * started): the close reason is `ERR_CODE: message`, within the 123 bytes a close reason allows.
 */
export const CLOSE_RUN_FAILED = 4001;

export function runFailedReason(code: string, message: string): string {
  return `${code}: ${message}`.slice(0, 123);
}

/** The error a CLOSE_RUN_FAILED reason carries; an unknown code reads as ERR_INTERNAL. */
export function parseRunFailedReason(reason: string): ErrorBody {
  const [code, ...message] = reason.split(": ");
  const known = ErrorCodeSchema.safeParse(code);
  return {
    code: known.success ? known.data : "ERR_INTERNAL",
    message: message.join(": ") || "run session failed",
  };
}

/**
 * Close code of a relayed run socket that carries the processor's own close code, for the codes a
 * WebSocket may not be closed with (1001–1015 but 1000, e.g. 1006 when the processor died): the
 * reason is `CODE reason`, so the RunSession sees the code the processor's connection ended with.
 */
export const CLOSE_RUN_RELAYED = 4002;

/** A close code a WebSocket may be closed with: 1000, or 3000–4999. */
export const isSendableCloseCode = (code: number) => code === 1000 || (code >= 3000 && code <= 4999);

export function relayedCloseReason(code: number, reason: string): string {
  return `${code} ${reason}`.slice(0, 123);
}

export function parseRelayedCloseReason(reason: string): { code: number; reason: string } {
  const match = /^(\d{4}) ?(.*)$/s.exec(reason);
  return match ? { code: Number(match[1]), reason: match[2] ?? "" } : { code: 1011, reason };
}
