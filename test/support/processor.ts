import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type WebSocket from "ws";
import {
  type ConverseOptions,
  type WsConversation as KitConversation,
  converse as kitConverse,
  postJson as kitPostJson,
  runOpen,
} from "../../agent/conformance/client.ts";
import { loadProcessorConfig } from "../../processor/config.ts";
import { createProcessorServer } from "../../processor/server.ts";
import { TOOLS } from "../../processor/tools/index.ts";
import type { Tool } from "../../processor/tools/tool.ts";
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

/** The kit's conversation (agent/conformance/client.ts), with frames as loosely typed as tests read them. */
export type WsConversation = KitConversation<{ kind: string; content: any }>;

/**
 * The conformance kit's client, so tests and `theory conformance` talk to a processor the same way;
 * admitted with the test token unless `options.headers` says otherwise.
 */
export const converse = (
  url: string,
  outgoing: (string | object | Buffer)[],
  options: {
    onFrame?: (frame: any, socket: WebSocket) => void;
    protocols?: string[];
    headers?: Record<string, string>;
  } = {},
) =>
  kitConverse(url, outgoing, {
    headers: TEST_PROCESSOR_AUTH,
    ...(options as ConverseOptions),
  }) as Promise<WsConversation>;

/** The kit's POST, admitted with the test token unless `headers` replace it. */
export const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  kitPostJson(url, body, { ...TEST_PROCESSOR_AUTH, ...headers });

export { runOpen };

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
