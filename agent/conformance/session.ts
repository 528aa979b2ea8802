import { randomBytes } from "node:crypto";
import { readdir, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { ARTIFACTS_ROOT } from "../../src/contract/primitives.ts";
import { refSlug } from "../../src/contract/ref.ts";
import type { ToolDefinition } from "../../src/contract/tools/index.ts";
import { defaultWritePrefix } from "../../src/core/paths.ts";
import {
  type ConverseOptions,
  converse,
  postJson,
  type ReceivedFrame,
  runOpen,
  type WsConversation,
} from "./client.ts";
import { sampleInputs } from "./fixtures.ts";

/** The processor under test, and what the kit is told about it. */
export interface ConformanceTarget {
  /** The processor's base URL, `http://HOST:PORT`. */
  url: string;
  /** The tool it serves: the kit builds valid inputs from it and knows its outputs. */
  tool: ToolDefinition;
  /** Sent as `Authorization: Bearer` on /run, /run-stream and the WebSocket, when set. */
  token?: string;
  /** Where the processor's `/artifacts/` is on this machine, when the kit can see it. */
  artifactsDir?: string;
  /** The processor's `IMAGE_DIGEST`; else read from the first envelope and held constant. */
  imageDigest?: string;
  /** The processor's `ENV_FINGERPRINT`; else read from the first envelope and held constant. */
  envFingerprint?: string;
}

export type CheckStatus = "pass" | "fail" | "skip";

export interface CheckOutcome {
  status: CheckStatus;
  /** What was seen (pass, skip) or what broke (fail), in one sentence. */
  message: string;
  observed?: unknown;
  expected?: unknown;
}

export const pass = (message: string, observed?: unknown): CheckOutcome => ({
  status: "pass",
  message,
  ...(observed === undefined ? {} : { observed }),
});
export const fail = (
  message: string,
  details: { observed?: unknown; expected?: unknown } = {},
): CheckOutcome => ({
  status: "fail",
  message,
  ...details,
});
export const skip = (message: string): CheckOutcome => ({ status: "skip", message });

/** One rule of the processor contract, checked on its own connection(s): its result depends on no other check. */
export interface Check {
  name: string;
  /** The rule, as the report states it. */
  rule: string;
  run(session: KitSession): Promise<CheckOutcome>;
}

/** A digest and fingerprint seen first, that every later envelope must repeat. */
interface Identity {
  imageDigest?: string;
  envFingerprint?: string;
}

/** What every check is handed: the target, fresh run ids, payloads, and the processor's identity. */
export class KitSession {
  readonly target: ConformanceTarget;
  readonly identity: Identity;
  /** Names this session's runs and scratch folder apart from any other's. */
  readonly nonce = randomBytes(4).toString("hex");
  private counter = 0;

  constructor(target: ConformanceTarget) {
    this.target = target;
    this.identity = { imageDigest: target.imageDigest, envFingerprint: target.envFingerprint };
  }

  get wsUrl(): string {
    const url = new URL("/run", this.target.url);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return url.toString();
  }

  httpUrl(path: string): string {
    return new URL(path, this.target.url).toString();
  }

  /** The write_prefix folder the kit's own prefixes go under: `/artifacts/conformance/{nonce}/`. */
  get scratchPrefix(): string {
    return `${ARTIFACTS_ROOT}conformance/${this.nonce}/`;
  }

  /** The scratch folder on this machine, when the kit can see the artifacts folder. */
  get scratchDir(): string | undefined {
    const artifacts = this.target.artifactsDir;
    return artifacts ? join(artifacts, "conformance", this.nonce) : undefined;
  }

  /**
   * Removes what this session's runs wrote where the kit can see it (best effort: files a
   * container wrote may not be the kit's to remove).
   */
  async cleanup(): Promise<void> {
    const artifacts = this.target.artifactsDir;
    if (!artifacts) return;
    const runs = join(artifacts, "outputs", refSlug(this.target.tool.ref));
    const ours = (await readdir(runs).catch(() => [] as string[])).filter((name) =>
      name.includes(`-${this.nonce}-`),
    );
    await Promise.all(
      [this.scratchDir as string, ...ours.map((name) => join(runs, name))].map((dir) =>
        rm(dir, { recursive: true, force: true }).catch(() => undefined),
      ),
    );
    await rmdir(join(artifacts, "conformance")).catch(() => undefined);
  }

  /** The processor auth header, when the kit holds a token. */
  get authHeaders(): Record<string, string> {
    return this.target.token ? { authorization: `Bearer ${this.target.token}` } : {};
  }

  /** A run id no other run of this kit uses: `cf-{label}-{nonce}-{n}`. */
  runId(label: string): string {
    this.counter += 1;
    return `cf-${label}-${this.nonce}-${this.counter}`;
  }

  /** A random lowercase hex string, for randomized ids and prefixes. */
  random(bytes = 4): string {
    return randomBytes(bytes).toString("hex");
  }

  /** A valid local-scope payload for the tool: its sample inputs unless `extra` says otherwise. */
  payload(runId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      run_id: runId,
      mode: "mock",
      inputs: sampleInputs(this.target.tool).sample,
      write_prefix: defaultWritePrefix(this.target.tool.ref, runId),
      settle: "fast",
      ...extra,
    };
  }

  converse(outgoing: (string | object | Buffer)[], options: ConverseOptions = {}): Promise<WsConversation> {
    return converse(this.wsUrl, outgoing, {
      ...options,
      headers: { ...this.authHeaders, ...options.headers },
    });
  }

  /** One run over the WebSocket: RunOpen with `payload`, everything until the close. */
  runWs(payload: object, options: ConverseOptions = {}): Promise<WsConversation> {
    return this.converse([runOpen(payload)], options);
  }

  post(path: string, body: unknown, headers: Record<string, string> = {}) {
    return postJson(this.httpUrl(path), body, { ...this.authHeaders, ...headers });
  }
}

/** What a RunResult claims before any check: any field may be missing or of another type. */
export interface ClaimedEnvelope {
  status?: unknown;
  run_id?: unknown;
  error?: { code?: unknown; message?: unknown };
}

/** The RunResult of a conversation as its exact text and parsed, or undefined without one. */
export function runResultOf(talk: WsConversation): { text: string; envelope: ClaimedEnvelope } | undefined {
  const index = talk.frames.findIndex((frame) => frame.kind === "RunResult");
  if (index === -1) return undefined;
  const frame = talk.frames[index] as ReceivedFrame;
  return { text: talk.texts[index] as string, envelope: (frame.content ?? {}) as ClaimedEnvelope };
}

/** A short account of a conversation for a report: the frame kinds in order and the close. */
export function describeTalk(talk: WsConversation): { frames: string[]; close: number; reason?: string } {
  const kinds = talk.frames.map((frame) => String(frame.kind));
  // A long stream of tokens reads better folded: Ack, Token ×100, RunResult.
  const folded: string[] = [];
  let run = 0;
  kinds.forEach((kind, i) => {
    run += 1;
    if (kinds[i + 1] !== kind) {
      folded.push(run > 1 ? `${kind} ×${run}` : kind);
      run = 0;
    }
  });
  return { frames: folded, close: talk.code, ...(talk.reason ? { reason: talk.reason } : {}) };
}
