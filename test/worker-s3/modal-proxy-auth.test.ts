import { describe, expect, inject, it } from "vitest";
import { registerEndpoint, runAndWait, runRequest, uniqueRunId } from "../worker/support.ts";

const processors = inject("processors");

describe("Modal proxy auth (MODAL_PROXY_KEY/SECRET configured in this project)", () => {
  it("sends Modal-Key and Modal-Secret on the health check and the WebSocket, so a gated endpoint runs", async () => {
    await registerEndpoint("llm/litellm@1", processors.proxyGate);
    const { resource } = await runAndWait(runRequest(uniqueRunId("gated")));
    expect(resource).toMatchObject({ state: "succeeded", envelope: { status: "success" } });
  });
});
