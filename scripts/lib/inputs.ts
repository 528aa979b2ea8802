/**
 * Tool inputs as every tool takes them (docs/contract.md#tool-inputs): `{"schema":"v1","params":{…}}`.
 * llm/litellm@1's params are OpenAI-style chat messages plus its options; echo/text@1's, the text.
 */
export const llmInputs = (content = "hi", options: Record<string, unknown> = {}) => ({
  schema: "v1",
  params: { messages: [{ role: "user", content }], ...options },
});

export const echoInputs = (text: string) => ({ schema: "v1", params: { text } });
