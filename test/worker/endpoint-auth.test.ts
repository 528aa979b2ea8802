import { env } from "cloudflare:workers";
import { describe, expect, inject, it } from "vitest";
import { ApiErrorSchema } from "../../src/contract/envelope.ts";
import { newProcessorToken } from "../../src/core/processor-auth.ts";
import { endpointDirectory } from "../../src/worker/objects.ts";
import { TEST_PROCESSOR_TOKEN } from "../support/tokens.ts";
import { api, registerEndpoint, runAndWait, runRequest, uniqueRunId } from "./support.ts";

const processors = inject("processors");
const DIGEST = `sha256:${"a".repeat(64)}`;

async function expectError(response: Response, status: number, code: string, text?: string) {
  expect(response.status).toBe(status);
  const body = ApiErrorSchema.parse(await response.json());
  expect(body.error.code).toBe(code);
  if (text) expect(body.error.message).toContain(text);
}

describe("an endpoint's processor token (this project has no Modal proxy auth configured)", () => {
  it("is write-only: PUT and GET answer without it, and no answer carries its value", async () => {
    const put = await api("/v1/endpoints/llm/litellm@1", {
      method: "PUT",
      json: { url: processors.litellm, image_digest: DIGEST, processor_token: TEST_PROCESSOR_TOKEN },
    });
    const putText = await put.text();
    expect(put.status).toBe(200);
    expect(JSON.parse(putText)).toEqual({
      ref: "llm/litellm@1",
      url: processors.litellm,
      image_digest: DIGEST,
    });
    const getText = await (await api("/v1/endpoints/llm/litellm@1")).text();
    expect(JSON.parse(getText)).toEqual({
      ref: "llm/litellm@1",
      url: processors.litellm,
      image_digest: DIGEST,
    });
    for (const text of [putText, getText]) expect(text).not.toContain(TEST_PROCESSOR_TOKEN);
  });

  it("is required: a registration without one (or with a malformed one) is 422 ERR_INPUTS", async () => {
    for (const processor_token of [undefined, "short"]) {
      await expectError(
        await api("/v1/endpoints/llm/litellm@1", {
          method: "PUT",
          json: { url: processors.litellm, image_digest: DIGEST, processor_token },
        }),
        422,
        "ERR_INPUTS",
        "processor_token",
      );
    }
  });

  it("goes on the run's handshake: the right one runs, a wrong one settles ERR_AUTH at once (not retried)", async () => {
    await registerEndpoint("llm/litellm@1", processors.litellm);
    const good = await runAndWait(runRequest(uniqueRunId("token-ok")));
    expect(good.resource).toMatchObject({ state: "succeeded", envelope: { status: "success" } });

    await registerEndpoint("llm/litellm@1", processors.litellm, DIGEST, {
      processor_token: newProcessorToken(),
    });
    const runId = uniqueRunId("token-wrong");
    const { resource } = await runAndWait(runRequest(runId));
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { status: "error", error: { code: "ERR_AUTH", message: expect.stringContaining("401") } },
    });
    const receipt = (await (await api(`/v1/runs/${runId}/receipt`)).json()) as { attempts: unknown[] };
    expect(receipt.attempts).toHaveLength(1);
  });
});

describe("Modal proxy auth on a control plane without MODAL_PROXY_KEY/SECRET", () => {
  it("refuses to register an endpoint that needs it: 422 ERR_INPUTS naming the settings", async () => {
    await expectError(
      await api("/v1/endpoints/llm/litellm@1", {
        method: "PUT",
        json: {
          url: processors.proxyGate,
          image_digest: DIGEST,
          processor_token: TEST_PROCESSOR_TOKEN,
          proxy_auth: true,
        },
      }),
      422,
      "ERR_INPUTS",
      "MODAL_PROXY_KEY",
    );
  });

  it("a registration that needs it (the secrets removed since) fails closed: ERR_AUTH, nothing dialed", async () => {
    // The API clears this isolate's lookup cache; the stored entry then gains proxy_auth behind its back.
    await registerEndpoint("llm/litellm@1", processors.proxyGate);
    await endpointDirectory(env, "llm/litellm@1").put({
      url: processors.proxyGate,
      image_digest: DIGEST,
      processor_token: TEST_PROCESSOR_TOKEN,
      proxy_auth: true,
    });
    expect(await (await api("/v1/endpoints/llm/litellm@1")).json()).toMatchObject({ proxy_auth: true });
    const { resource } = await runAndWait(runRequest(uniqueRunId("no-proxy")));
    expect(resource).toMatchObject({
      state: "failed",
      envelope: { error: { code: "ERR_AUTH", message: expect.stringContaining("MODAL_PROXY_KEY") } },
    });
  });
});
