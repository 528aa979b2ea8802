import { setTimeout as sleep } from "node:timers/promises";
import OpenAI from "openai";
import type { z } from "zod";
import type { ErrorCode } from "../../src/contract/errors.ts";
import { llmLitellm } from "../../src/contract/tools/index.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { type Emit, type Tool, yieldToEventLoop } from "./tool.ts";

type LitellmParams = z.infer<typeof llmLitellm.inputs.v1>;

const OUTPUT = "text/response.txt";
const CANNED =
  "This is a deterministic mock reply from llm/litellm@1 : the same inputs always stream the same tokens .";
const CANNED_WORDS = CANNED.split(" ");

/** Mock tokens: the canned reply's words, cycled to `max_tokens` (default: the reply once). */
export function mockTokens(maxTokens: number = CANNED_WORDS.length): string[] {
  return Array.from({ length: maxTokens }, (_, i) => {
    const last = i === maxTokens - 1;
    return `${CANNED_WORDS[i % CANNED_WORDS.length]}${last ? "\n" : " "}`;
  });
}

async function streamMock(inputs: LitellmParams, emit: Emit, signal: AbortSignal): Promise<string> {
  let reply = "";
  for (const [i, text] of mockTokens(inputs.max_tokens).entries()) {
    if (inputs.token_delay_ms) await sleep(inputs.token_delay_ms, undefined, { signal });
    else if (i % 64 === 0) await yieldToEventLoop();
    signal.throwIfAborted();
    emit({ kind: "Token", content: { text } });
    reply += text;
  }
  return reply;
}

/** Upstream failures mapped onto the taxonomy, with a short message and no upstream body. */
function mapUpstreamError(error: unknown): TheoryError | unknown {
  if (error instanceof OpenAI.APIUserAbortError) return error;
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new TheoryError("ERR_WS_TIMEOUT", "upstream LLM API timed out");
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new TheoryError(
      "ERR_ENDPOINT_MISSING",
      "upstream LLM API is not reachable (check LITELLM_BASE_URL)",
    );
  }
  if (error instanceof OpenAI.APIError && typeof error.status === "number") {
    const byStatus: Record<number, ErrorCode> = {
      400: "ERR_INPUTS",
      404: "ERR_INPUTS",
      422: "ERR_INPUTS",
      401: "ERR_AUTH",
      403: "ERR_AUTH",
    };
    return new TheoryError(
      byStatus[error.status] ?? "ERR_INTERNAL",
      `upstream LLM API answered HTTP ${error.status}`,
    );
  }
  return error;
}

async function streamReal(
  inputs: LitellmParams,
  context: { env: Readonly<Record<string, string | undefined>>; emit: Emit; signal: AbortSignal },
): Promise<string> {
  if (!inputs.model) throw new TheoryError("ERR_INPUTS", 'inputs.params.model is required in mode "real"');
  // Retries belong to the orchestrator, never here (docs/operations.md#retries-health-and-budgets).
  const client = new OpenAI({
    apiKey: context.env.LITELLM_API_KEY,
    baseURL: context.env.LITELLM_BASE_URL,
    maxRetries: 0,
  });
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = inputs.messages;
  let reply = "";
  try {
    const stream = await client.chat.completions.create(
      {
        model: inputs.model,
        messages,
        stream: true,
        ...(inputs.max_tokens ? { max_tokens: inputs.max_tokens } : {}),
        ...(inputs.temperature !== undefined ? { temperature: inputs.temperature } : {}),
      },
      { signal: context.signal },
    );
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta?.content;
      if (!text) continue;
      context.emit({ kind: "Token", content: { text } });
      reply += text;
    }
  } catch (error) {
    throw mapUpstreamError(error);
  }
  return reply;
}

/** An LLM behind an OpenAI-compatible API (LiteLLM or any other), streamed as Token frames. */
export const litellmTool: Tool<LitellmParams> = {
  definition: llmLitellm,
  secrets: ["LITELLM_API_KEY", "LITELLM_BASE_URL"],
  async run({ mode, params: inputs, env, emit, signal }) {
    const reply =
      mode === "mock"
        ? await streamMock(inputs, emit, signal)
        : await streamReal(inputs, { env, emit, signal });
    return { [OUTPUT]: reply };
  },
};
