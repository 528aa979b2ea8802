import { exports } from "cloudflare:workers";
import { llmInputs } from "../../scripts/lib/inputs.ts";
import { TEST_PROCESSOR_TOKEN, TEST_TOKENS } from "../support/tokens.ts";

type TokenName = keyof typeof TEST_TOKENS;

/** A request to the Worker under test, as a client would send it. */
export function api(
  path: string,
  init: RequestInit & { token?: TokenName | null; json?: unknown } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? "admin" : init.token;
  if (token) headers.set("Authorization", `Bearer ${TEST_TOKENS[token].value}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(new Request(`https://theory.test${path}`, { ...init, headers, body }));
}

/** Registers a test processor (they all run with the test token); `extra` adds fields such as proxy_auth. */
export async function registerEndpoint(
  ref: string,
  url: string,
  digest = `sha256:${"a".repeat(64)}`,
  extra: Record<string, unknown> = {},
) {
  const response = await api(`/v1/endpoints/${ref}`, {
    method: "PUT",
    json: { url, image_digest: digest, processor_token: TEST_PROCESSOR_TOKEN, ...extra },
  });
  if (response.status !== 200)
    throw new Error(`register failed: ${response.status} ${await response.text()}`);
}

let counter = 0;
export const uniqueRunId = (label: string) => `${label}-${Date.now().toString(36)}-${counter++}`;

export const runRequest = (runId: string, extra: Record<string, unknown> = {}) => ({
  ref: "llm/litellm@1",
  run_id: runId,
  mode: "mock",
  inputs: llmInputs("hi", { max_tokens: 5 }),
  target: "modal",
  artifact_scope: "local",
  ...extra,
});

/** POST /v1/runs with Prefer: wait, returning status and the run resource. */
export async function runAndWait(request: object, seconds = 20) {
  const response = await api("/v1/runs", {
    method: "POST",
    json: request,
    headers: { Prefer: `wait=${seconds}` },
  });
  return { status: response.status, resource: (await response.json()) as any, headers: response.headers };
}
