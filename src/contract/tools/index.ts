import type { ToolDefinition } from "./definition.ts";
import { echoText } from "./echo-text.ts";
import { llmLitellm } from "./llm-litellm.ts";

export * from "./definition.ts";
export { echoText, llmLitellm };

/** Every tool this project defines, by ref. */
export const TOOL_DEFINITIONS: Readonly<Record<string, ToolDefinition>> = Object.fromEntries(
  [echoText, llmLitellm].map((definition) => [definition.ref, definition]),
);
