/**
 * llm/litellm@1's inputs for the tests that build them here: the one place to change when the
 * inputs' shape changes (main's scripts/lib/inputs.ts has the same name).
 */
export const llmInputs = (prompt = "hi", options: Record<string, unknown> = {}) => ({ prompt, ...options });
