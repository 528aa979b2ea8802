import type { z } from "zod";
import type { EventFrameSchema, LogFrameSchema, TokenFrameSchema } from "../../src/contract/frames.ts";
import type { Mode } from "../../src/contract/primitives.ts";

/** Frames a tool may stream while it works; the transports add Ack and RunResult. */
export type ProgressFrame =
  | z.infer<typeof TokenFrameSchema>
  | z.infer<typeof EventFrameSchema>
  | z.infer<typeof LogFrameSchema>;

export type Emit = (frame: ProgressFrame) => void;

export interface ToolContext<I> {
  mode: Mode;
  inputs: I;
  env: Readonly<Record<string, string | undefined>>;
  emit: Emit;
  signal: AbortSignal;
}

/** Artifact path (relative to the run prefix) -> content. */
export type ToolFiles = Record<string, string | Uint8Array>;

export interface Tool<I = unknown> {
  ref: string;
  inputs: z.ZodType<I>;
  /** Every file the tool may write; anything else is refused. */
  outputs: readonly string[];
  /** Environment variables required in mode "real". */
  secrets: readonly string[];
  run(context: ToolContext<I>): Promise<ToolFiles>;
}

/** Lets a long loop give the event loop (and a pending Cancel) a turn. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
