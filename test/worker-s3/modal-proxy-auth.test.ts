import { describe, expect, inject, it } from "vitest";
import { TEST_PROCESSOR_TOKEN } from "../support/tokens.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "../worker/support.ts";

const processors = inject("processors");

describe("Modal proxy auth (MODAL_PROXY_KEY/SECRET configured in this project)", () => {
  it("sends Modal-Key and Modal-Secret on the health check and the WebSocket, so a gated endpoint runs", async () => {
    await registerEndpoint("llm/litellm@1", processors.proxyGate, undefined, { proxy_auth: true });
    const { resource } = await runAndWait(runRequest(uniqueRunId("gated")));
    expect(resource).toMatchObject({ state: "succeeded", envelope: { status: "success" } });
  });

  it("sends them only to an endpoint registered as needing them: the same gate, registered without, refuses (ERR_HEALTH 401)", async () => {
    await registerEndpoint("llm/litellm@1", processors.proxyGate);
    const { resource } = await runAndWait(runRequest(uniqueRunId("ungated")));
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_HEALTH", message: expect.stringContaining("401") } },
    });
  });

  it("answers proxy_auth on GET, never the token", async () => {
    await registerEndpoint("llm/litellm@1", processors.proxyGate, undefined, { proxy_auth: true });
    const text = await (await api("/v1/endpoints/llm/litellm@1")).text();
    expect(JSON.parse(text)).toEqual({
      ref: "llm/litellm@1",
      url: processors.proxyGate,
      image_digest: `sha256:${"a".repeat(64)}`,
      proxy_auth: true,
    });
    expect(text).not.toContain(TEST_PROCESSOR_TOKEN);
  });
});
