import type { RawData, WebSocket } from "ws";
import type { Envelope, ErrorBody } from "../src/contract/envelope.ts";
import { type ClientFrame, ClientFrameSchema, type ProcessorFrame } from "../src/contract/frames.ts";
import type { ProcessorPayload } from "../src/contract/payload.ts";
import { canonicalJson } from "../src/core/canonical.ts";
import { jsonProblem } from "../src/core/json.ts";
import { checkPayload, type RunDeps, runErrorEnvelope, runTool } from "./run-tool.ts";
import type { ProgressFrame } from "./tools/tool.ts";

/** A client that never opens a run does not hold a connection forever. */
const OPEN_TIMEOUT_MS = 30_000;
const CLOSE_NORMAL = 1000;
const CLOSE_PROTOCOL_ERROR = 1002;

type Phase = "awaiting-open" | "running" | "settled";

/**
 * One theory.run.v1 connection: RunOpen first, Ack, progress frames, exactly one RunResult, close
 * 1000. Anything out of order or unknown is a protocol error: close 1002, and the run is aborted.
 */
export class RunSocketSession {
  private phase: Phase = "awaiting-open";
  private readonly abort = new AbortController();
  private readonly openTimer: NodeJS.Timeout;
  private readonly socket: WebSocket;
  private readonly deps: RunDeps;

  constructor(socket: WebSocket, deps: RunDeps) {
    this.socket = socket;
    this.deps = deps;
    this.openTimer = setTimeout(() => this.protocolError("no RunOpen in time"), OPEN_TIMEOUT_MS).unref();
    socket.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    socket.on("close", () => this.onGone());
    // Oversized frames (maxPayload) surface here; ws then closes with 1009.
    socket.on("error", (error) => {
      deps.log.warn("ws.run.error", { error: error.message });
      this.onGone();
    });
  }

  private onGone(): void {
    clearTimeout(this.openTimer);
    if (this.phase === "running") this.abort.abort();
    this.phase = "settled";
  }

  private send(frame: ProcessorFrame): void {
    this.socket.send(canonicalJson(frame));
  }

  private protocolError(reason: string): void {
    this.deps.log.warn("ws.run.protocol_error", { reason });
    this.onGone();
    this.socket.close(CLOSE_PROTOCOL_ERROR, `ERR_INPUTS: ${reason}`.slice(0, 123));
  }

  private onMessage(data: RawData, isBinary: boolean) {
    if (this.phase === "settled") return;
    if (isBinary) return this.protocolError("binary frames are not part of theory.run.v1");
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString());
    } catch {
      return this.protocolError("malformed JSON frame");
    }
    const parsed = ClientFrameSchema.safeParse(raw);
    if (!parsed.success) return this.onInvalidFrame(raw);
    this.dispatch(parsed.data);
  }

  /** A RunOpen whose payload is invalid but names its run is a contractual error, not a protocol one. */
  private onInvalidFrame(raw: unknown) {
    const frame = raw as { kind?: unknown; content?: { role?: unknown; payload?: unknown } } | null;
    if (this.phase !== "awaiting-open" || frame?.kind !== "RunOpen" || frame.content?.role !== "client") {
      return this.protocolError("unknown or malformed frame");
    }
    const checked = checkPayload(frame.content.payload);
    if (checked.ok || checked.runId === undefined)
      return this.protocolError("RunOpen without a valid run_id");
    this.refuse(checked.runId, checked.error);
  }

  /** A run this processor will not start: acknowledged, then settled with the error at once. */
  private refuse(runId: string, error: ErrorBody) {
    this.send({ kind: "Ack", content: { run_id: runId } });
    this.settle(runErrorEnvelope(this.deps.config, runId, error));
  }

  private dispatch(frame: ClientFrame) {
    switch (frame.kind) {
      case "RunOpen": {
        if (this.phase !== "awaiting-open") return this.protocolError("RunOpen must come first, and once");
        const { payload } = frame.content;
        // The schema leaves inputs free-form: held here to the JSON limits every body is held to.
        const problem = jsonProblem(payload);
        if (problem)
          return this.refuse(payload.run_id, { code: "ERR_INPUTS", message: `payload: ${problem}` });
        void this.run(payload);
        return;
      }
      case "Cancel": {
        if (this.phase !== "running") return this.protocolError("Cancel without a running run");
        this.deps.log.info("ws.run.cancel");
        this.abort.abort();
        return;
      }
      default: {
        const unreachable: never = frame;
        return this.protocolError(`unhandled frame ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private async run(payload: ProcessorPayload): Promise<void> {
    clearTimeout(this.openTimer);
    this.phase = "running";
    this.send({ kind: "Ack", content: { run_id: payload.run_id } });
    const emit = (frame: ProgressFrame) => {
      if (this.phase === "running") this.send(frame);
    };
    const envelope = await runTool(payload, emit, this.abort.signal, this.deps);
    if (this.phase !== "running") return; // the client left or broke the protocol meanwhile
    this.settle(envelope);
  }

  private settle(envelope: Envelope): void {
    clearTimeout(this.openTimer);
    this.phase = "settled";
    this.send({ kind: "RunResult", content: envelope });
    this.socket.close(CLOSE_NORMAL);
  }
}
