import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { mockTokens } from "../../../processor/tools/litellm.ts";
import { llmInputs } from "../../../scripts/lib/inputs.ts";
import { expectConformant } from "../../support/conformance.ts";
import {
  converse,
  payloadFor,
  type RunningProcessor,
  runOpen,
  startProcessor,
} from "../../support/processor.ts";
import { TEST_PROCESSOR_AUTH } from "../../support/tokens.ts";

let llm: RunningProcessor;
beforeAll(async () => {
  llm = await startProcessor({ toolRef: "llm/litellm@1" });
});
afterAll(() => llm.close());

const llmPayload = (runId: string, inputs: object = llmInputs("hi")) =>
  payloadFor("llm/litellm@1", runId, inputs);

describe("processor WebSocket /run (theory.run.v1)", () => {
  it("Ack, Token frames, exactly one RunResult, then close 1000", async () => {
    // Ack first naming the run, known frames only, one RunResult last, close 1000: the kit's rules.
    await expectConformant(llm, "llm/litellm@1", [
      "ws.ack-first",
      "ws.known-frames",
      "ws.one-run-result",
      "ws.close-1000",
    ]);
    const talk = await converse(llm.ws, [runOpen(llmPayload("ws-1"))]);
    const kinds = talk.frames.map((f) => f.kind);
    expect(kinds.slice(1, -1).every((k) => k === "Token")).toBe(true);
    expect(talk.frames.slice(1, -1).map((f) => f.content.text)).toEqual(mockTokens());
    expect(talk.frames.at(-1)?.content.status).toBe("success");
  });

  it("streams 10k mock tokens in order, none lost", async () => {
    const talk = await converse(llm.ws, [
      runOpen(llmPayload("ws-10k", llmInputs("hi", { max_tokens: 10_000 }))),
    ]);
    const tokens = talk.frames.filter((f) => f.kind === "Token").map((f) => f.content.text);
    expect(tokens).toEqual(mockTokens(10_000));
    expect(talk.frames.at(-1)?.content.status).toBe("success");
  });

  it("gives the same envelope bytes as HTTP /run for the same payload", async () => {
    // The RunResult frame is canonical JSON, so its content is the envelope's canonical text.
    await expectConformant(llm, "llm/litellm@1", ["parity.transports", "envelope.canonical"]);
  });

  it("Cancel aborts the tool and settles ERR_CANCELED", async () => {
    let canceled = false;
    const talk = await converse(
      llm.ws,
      [runOpen(llmPayload("ws-cancel", llmInputs("hi", { max_tokens: 100_000 })))],
      {
        onFrame: (frame, socket) => {
          if (frame.kind === "Token" && !canceled) {
            canceled = true;
            socket.send(JSON.stringify({ kind: "Cancel", content: {} }));
          }
        },
      },
    );
    expect(talk.code).toBe(1000);
    const result = talk.frames.at(-1);
    expect(result?.kind).toBe("RunResult");
    expect(result?.content).toMatchObject({
      status: "error",
      run_id: "ws-cancel",
      error: { code: "ERR_CANCELED" },
    });
    expect(talk.frames.filter((f) => f.kind === "Token").length).toBeLessThan(100_000);
    await expectConformant(llm, "llm/litellm@1", ["ws.cancel"]);
  });

  it("an invalid payload that names its run gets Ack + an ERR_INPUTS RunResult + close 1000", async () => {
    await expectConformant(llm, "llm/litellm@1", ["ws.invalid-inputs"]);
  });

  describe("protocol errors close with 1002 and no RunResult", () => {
    // Each closes 1002 with an "ERR_INPUTS: " reason and no RunResult (the kit's closesWith).
    it.each([
      ["Cancel before RunOpen", "ws.protocol.cancel-first"],
      ["an unknown kind", "ws.protocol.unknown-kind"],
      ["malformed JSON", "ws.protocol.malformed-json"],
      ["a RunOpen without a readable run_id", "ws.protocol.no-run-id"],
      ["a binary frame", "ws.protocol.binary-frame"],
      ["a second RunOpen", "ws.protocol.second-open"],
    ])("%s", async (_name, check) => {
      await expectConformant(llm, "llm/litellm@1", [check]);
    });

    it("a frame over 1 MiB closes the connection (1009)", async () => {
      await expectConformant(llm, "llm/litellm@1", ["ws.frame-too-large"]);
    });
  });

  it("refuses an upgrade without the theory.run.v1 subprotocol, and on another path", async () => {
    await expectConformant(llm, "llm/litellm@1", ["ws.subprotocol"]);
    await expect(converse(llm.ws.replace("/run", "/elsewhere"), [])).rejects.toThrow(/404/);
  });

  it("a client that leaves mid-run does not crash the server", async () => {
    await new Promise<void>((resolve) => {
      const socket = new WebSocket(llm.ws, ["theory.run.v1"], { headers: TEST_PROCESSOR_AUTH });
      socket.on("open", () =>
        socket.send(JSON.stringify(runOpen(llmPayload("leaver", llmInputs("x", { max_tokens: 100_000 }))))),
      );
      socket.on("message", () => {
        socket.terminate();
        resolve();
      });
    });
    const health = await fetch(`${llm.http}/healthz`);
    expect(health.status).toBe(200);
  });
});

describe("llm/litellm@1 mock pacing", () => {
  it("token_delay_ms paces the stream without changing its content", async () => {
    const paced = await converse(llm.ws, [
      runOpen(llmPayload("paced", llmInputs("hi", { max_tokens: 3, token_delay_ms: 5 }))),
    ]);
    const plain = await converse(llm.ws, [runOpen(llmPayload("paced", llmInputs("hi", { max_tokens: 3 })))]);
    expect(paced.texts).toEqual(plain.texts);
  });

  it("a delay over 1000 ms is ERR_INPUTS", async () => {
    const talk = await converse(llm.ws, [
      runOpen(llmPayload("too-slow", llmInputs("hi", { token_delay_ms: 5000 }))),
    ]);
    expect(talk.frames.at(-1)?.content).toMatchObject({
      error: { code: "ERR_INPUTS", message: expect.stringContaining("token_delay_ms") },
    });
  });
});
