import { z } from "zod";
import { defineTool } from "./definition.ts";

/** One chat message, OpenAI-style. */
const MessageSchema = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string().min(1).max(100_000),
});

/** llm/litellm@1: an OpenAI-compatible chat completion, streamed as tokens. */
export const llmLitellm = defineTool({
  ref: "llm/litellm@1",
  inputs: {
    v1: z.strictObject({
      messages: z.array(MessageSchema).min(1).max(256),
      /** Required in mode "real": the upstream model name. */
      model: z.string().min(1).max(256).optional(),
      max_tokens: z.int().min(1).max(100_000).optional(),
      temperature: z.number().min(0).max(2).optional(),
      /** Mode "mock" only: a pause before each token, to stream like a real model (demos, cancel tests). */
      token_delay_ms: z.int().min(0).max(1000).optional(),
    }),
  },
  outputs: ["text/response.txt"],
});
