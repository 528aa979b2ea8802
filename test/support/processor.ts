import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { loadProcessorConfig } from "../../processor/config.ts";
import { createProcessorServer } from "../../processor/server.ts";
import { TOOLS } from "../../processor/tools/index.ts";
import type { Tool } from "../../processor/tools/tool.ts";
import { RUN_SUBPROTOCOL } from "../../src/contract/frames.ts";
import { createLogger } from "../../src/core/log.ts";
import { defaultWritePrefix } from "../../src/core/paths.ts";
import { DIGEST_A } from "./examples.ts";
import { TEST_PROCESSOR_AUTH, TEST_PROCESSOR_TOKEN } from "./tokens.ts";

export interface RunningProcessor {
  http: string;
  ws: string;
  artifactsRoot: string;
  /** Its PROCESSOR_TOKEN. */
  token: string;
  logs: string[];
  close(): Promise<void>;
}

/** The real processor server on an ephemeral loopback port, with its own artifacts root and the test token. */
export async function startProcessor(options: {
  toolRef: string;
  env?: Record<string, string>;
  tools?: readonly Tool[];
}): Promise<RunningProcessor> {
  const artifactsRoot = await mkdtemp(join(tmpdir(), "theory-artifacts-"));
  const config = loadProcessorConfig({
    TOOL_REF: options.toolRef,
    PORT: "0",
    HOST: "127.0.0.1",
    IMAGE_DIGEST: DIGEST_A,
    ENV_FINGERPRINT: "cpu:1;memory:2Gi",
    ARTIFACTS_ROOT: artifactsRoot,
    PROCESSOR_TOKEN: TEST_PROCESSOR_TOKEN,
    ...options.env,
  });
  const logs: string[] = [];
  const log = createLogger({ sink: (line) => logs.push(line), level: "debug" });
  const server = createProcessorServer({ config, tools: options.tools ?? TOOLS, log });
  const port = await server.listen();
  return {
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/run`,
    artifactsRoot,
    token: config.processorToken,
    logs,
    async close() {
      await server.close();
      await rm(artifactsRoot, { recursive: true, force: true });
    },
  };
}

export interface WsConversation {
  frames: { kind: string; content: any }[];
  /** The exact texts received, for byte-level comparisons. */
  texts: string[];
  code: number;
  reason: string;
}

/**
 * Opens a theory.run.v1 socket (admitted with the test token unless `headers` says otherwise),
 * sends `outgoing` (strings are sent verbatim), optionally reacts to frames, and resolves with
 * everything received once the server closes.
 */
export function converse(
  url: string,
  outgoing: (string | object | Buffer)[],
  options: {
    onFrame?: (frame: any, socket: WebSocket) => void;
    protocols?: string[];
    headers?: Record<string, string>;
  } = {},
): Promise<WsConversation> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, options.protocols ?? [RUN_SUBPROTOCOL], {
      headers: options.headers ?? TEST_PROCESSOR_AUTH,
    });
    const result: WsConversation = { frames: [], texts: [], code: 0, reason: "" };
    let opened = false;
    socket.on("open", () => {
      opened = true;
      for (const item of outgoing) {
        socket.send(
          typeof item === "string" || Buffer.isBuffer(item)
            ? (item as string | Buffer)
            : JSON.stringify(item),
        );
      }
    });
    socket.on("message", (data) => {
      const text = data.toString();
      const frame = JSON.parse(text);
      result.texts.push(text);
      result.frames.push(frame);
      options.onFrame?.(frame, socket);
    });
    socket.on("error", (error) => {
      if (!opened) reject(error);
    });
    socket.on("close", (code, reason) => resolve({ ...result, code, reason: reason.toString() }));
  });
}

export const runOpen = (payload: object) => ({ kind: "RunOpen", content: { role: "client", payload } });

export function payloadFor(
  ref: string,
  runId: string,
  inputs: object,
  extra: object = {},
): Record<string, any> {
  return {
    run_id: runId,
    mode: "mock",
    inputs,
    write_prefix: defaultWritePrefix(ref, runId),
    settle: "fast",
    ...extra,
  };
}

/** POSTs JSON to a test processor, admitted with the test token unless `headers` replace it. */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...TEST_PROCESSOR_AUTH, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}
