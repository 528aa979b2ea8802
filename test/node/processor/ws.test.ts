import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { mockTokens } from "../../../processor/tools/litellm.ts";
import { EnvelopeSchema, ProcessorFrameSchema } from "../../../src/contract/index.ts";
import {
  converse,
  payloadFor,
  postJson,
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

const llmPayload = (runId: string, inputs: object = { prompt: "hi" }) =>
  payloadFor("llm/litellm@1", runId, inputs);

describe("processor WebSocket /run (theory.run.v1)", () => {
  it("Ack, Token frames, exactly one RunResult, then close 1000", async () => {
    const talk = await converse(llm.ws, [runOpen(llmPayload("ws-1"))]);
    expect(talk.code).toBe(1000);
    for (const frame of talk.frames) expect(ProcessorFrameSchema.safeParse(frame).success).toBe(true);
    const kinds = talk.frames.map((f) => f.kind);
    expect(kinds[0]).toBe("Ack");
    expect(talk.frames[0]?.content).toEqual({ run_id: "ws-1" });
    expect(kinds.slice(1, -1).every((k) => k === "Token")).toBe(true);
    expect(kinds.filter((k) => k === "RunResult")).toHaveLength(1);
    expect(kinds.at(-1)).toBe("RunResult");
    expect(talk.frames.slice(1, -1).map((f) => f.content.text)).toEqual(mockTokens());
    expect(talk.frames.at(-1)?.content.status).toBe("success");
  });

  it("streams 10k mock tokens in order, none lost", async () => {
    const talk = await converse(llm.ws, [
      runOpen(llmPayload("ws-10k", { prompt: "hi", max_tokens: 10_000 })),
    ]);
    const tokens = talk.frames.filter((f) => f.kind === "Token").map((f) => f.content.text);
    expect(tokens).toEqual(mockTokens(10_000));
    expect(talk.frames.at(-1)?.content.status).toBe("success");
  });

  it("gives the same envelope bytes as HTTP /run for the same payload", async () => {
    const payload = llmPayload("parity-1");
    const talk = await converse(llm.ws, [runOpen(payload)]);
    const overWs = JSON.stringify(talk.frames.at(-1)?.content);
    const overHttp = await postJson(`${llm.http}/run`, payload);
    expect(EnvelopeSchema.parse(JSON.parse(overHttp.text)).status).toBe("success");
    // The RunResult frame is canonical JSON, so its content is the envelope's canonical text.
    expect(talk.texts.at(-1)).toBe(`{"content":${overHttp.text},"kind":"RunResult"}`);
    expect(JSON.parse(overWs)).toEqual(JSON.parse(overHttp.text));
  });

  it("Cancel aborts the tool and settles ERR_CANCELED", async () => {
    let canceled = false;
    const talk = await converse(
      llm.ws,
      [runOpen(llmPayload("ws-cancel", { prompt: "hi", max_tokens: 100_000 }))],
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
  });

  it("an invalid payload that names its run gets Ack + an ERR_INPUTS RunResult + close 1000", async () => {
    const talk = await converse(llm.ws, [runOpen({ ...llmPayload("ws-bad"), inputs: { prompt: "" } })]);
    expect(talk.code).toBe(1000);
    expect(talk.frames.map((f) => f.kind)).toEqual(["Ack", "RunResult"]);
    expect(talk.frames[1]?.content).toMatchObject({ run_id: "ws-bad", error: { code: "ERR_INPUTS" } });
  });

  describe("protocol errors close with 1002 and no RunResult", () => {
    it.each([
      ["Cancel before RunOpen", [{ kind: "Cancel", content: {} }]],
      ["an unknown kind", [{ kind: "Hello", content: {} }]],
      ["malformed JSON", ["{not json"]],
      ["a RunOpen without a readable run_id", [runOpen({ mode: "mock" })]],
      ["a binary frame", [Buffer.from([1, 2, 3])]],
      [
        "a second RunOpen",
        [runOpen(llmPayload("twice", { prompt: "x", max_tokens: 50_000 })), runOpen(llmPayload("twice"))],
      ],
    ])("%s", async (_name, frames) => {
      const talk = await converse(llm.ws, frames as (object | string | Buffer)[]);
      expect(talk.code).toBe(1002);
      expect(talk.reason).toMatch(/^ERR_INPUTS: /);
      expect(talk.frames.some((f) => f.kind === "RunResult")).toBe(false);
    });

    it("a frame over 1 MiB closes the connection (1009)", async () => {
      const huge = runOpen(llmPayload("huge", { prompt: "x".repeat(1024 * 1024) }));
      const talk = await converse(llm.ws, [huge]);
      expect(talk.code).toBe(1009);
      expect(talk.frames).toEqual([]);
    });
  });

  it("refuses an upgrade without the theory.run.v1 subprotocol, and on another path", async () => {
    await expect(converse(llm.ws, [], { protocols: ["other.v1"] })).rejects.toThrow(/400/);
    await expect(converse(llm.ws.replace("/run", "/elsewhere"), [])).rejects.toThrow(/404/);
  });

  it("a client that leaves mid-run does not crash the server", async () => {
    await new Promise<void>((resolve) => {
      const socket = new WebSocket(llm.ws, ["theory.run.v1"], { headers: TEST_PROCESSOR_AUTH });
      socket.on("open", () =>
        socket.send(JSON.stringify(runOpen(llmPayload("leaver", { prompt: "x", max_tokens: 100_000 })))),
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
      runOpen(llmPayload("paced", { prompt: "hi", max_tokens: 3, token_delay_ms: 5 })),
    ]);
    const plain = await converse(llm.ws, [runOpen(llmPayload("paced", { prompt: "hi", max_tokens: 3 }))]);
    expect(paced.texts).toEqual(plain.texts);
  });

  it("a delay over 1000 ms is ERR_INPUTS", async () => {
    const talk = await converse(llm.ws, [
      runOpen(llmPayload("too-slow", { prompt: "hi", token_delay_ms: 5000 })),
    ]);
    expect(talk.frames.at(-1)?.content).toMatchObject({
      error: { code: "ERR_INPUTS", message: expect.stringContaining("token_delay_ms") },
    });
  });
});
