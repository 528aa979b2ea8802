import type { z } from "zod";
import type { EventFrameSchema, LogFrameSchema, TokenFrameSchema } from "../../src/contract/frames.ts";
import type { Mode } from "../../src/contract/primitives.ts";
import type { ToolDefinition } from "../../src/contract/tools/index.ts";

/** Frames a tool may stream while it works; the transports add Ack and RunResult. */
export type ProgressFrame =
  | z.infer<typeof TokenFrameSchema>
  | z.infer<typeof EventFrameSchema>
  | z.infer<typeof LogFrameSchema>;

export type Emit = (frame: ProgressFrame) => void;

export interface ToolContext<P> {
  mode: Mode;
  /** The `params` of the run's inputs, checked against the definition's schema version. */
  params: P;
  env: Readonly<Record<string, string | undefined>>;
  emit: Emit;
  signal: AbortSignal;
}

/** Artifact path (relative to the run prefix) -> content. */
export type ToolFiles = Record<string, string | Uint8Array>;

/** A tool this image carries: its shared definition (src/contract/tools), its secrets, its work. */
export interface Tool<P = unknown> {
  definition: ToolDefinition;
  /** Environment variables required in mode "real". */
  secrets: readonly string[];
  run(context: ToolContext<P>): Promise<ToolFiles>;
}

/** Lets a long loop give the event loop (and a pending Cancel) a turn. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
