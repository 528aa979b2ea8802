import WebSocket from "ws";
import {
  AGENT_SUBPROTOCOL,
  type AgentFrame,
  type AgentTool,
  type ControlFrame,
  ControlFrameSchema,
  HEARTBEAT_PING,
  RELAY_BATCH_MAX_BYTES,
} from "../../src/contract/agent-frames.ts";
import type { ErrorBody } from "../../src/contract/envelope.ts";
import { MAX_FRAME_BYTES, RUN_SUBPROTOCOL } from "../../src/contract/frames.ts";
import type { Platform } from "../../src/contract/primitives.ts";
import { type BackoffPolicy, backoffDelay } from "../../src/core/backoff.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { FlushWindow } from "../../src/core/flush-window.ts";
import type { Logger } from "../../src/core/log.ts";
import { processorAuthHeaders } from "../../src/core/processor-auth.ts";
import { refusedHandshake } from "../../src/engine/endpoint-transport.ts";
import { containerHealthy, readContainers } from "../localctl/state.ts";

/**
 * Flow control on the tunnel: past this many bytes queued for the control plane, the daemon stops
 * reading from processors (their sockets apply backpressure), and reads again once the queue is
 * below a quarter of it. A fast processor then cannot flood the tunnel or starve its heartbeats.
 */
export const TUNNEL_HIGH_WATER_BYTES = 1024 * 1024;

/**
 * How often a run's frames go up while they keep coming: the first after a pause goes at once, the
 * rest as one RelayBatch per window. Every message costs the control plane a Durable Object event
 * twice (the tunnel, then the run), so a 100k-token run goes up in about 150 messages, not 5000.
 */
export const RELAY_WINDOW_MS = 5;

/** One health probe of a started container, for Hello and before each bridge. */
const HEALTH_PROBE_MS = 2000;

/** A refused upgrade's body is an API error of a few hundred bytes; read no more than this of it. */
const REFUSAL_BODY_MAX_BYTES = 4096;

/** The tunnel's close code for a Hello the control plane will never accept (another agent's id). */
const CLOSE_POLICY_VIOLATION = 1008;

/** Reconnect: exponential with jitter, capped, forever (the control plane may be down for a while). */
export const RECONNECT_BACKOFF: BackoffPolicy = {
  initialMs: 250,
  maxMs: 30_000,
  factor: 2,
  jitter: 0.3,
  totalMs: Number.POSITIVE_INFINITY,
};

export interface AgentDaemonOptions {
  controlPlane: string;
  agentId: string;
  token: string;
  platform: Platform;
  /** Where localctl's state file lives: which containers run, on which ports. */
  home: string;
  log: Logger;
  heartbeatMs?: number;
  reconnect?: BackoffPolicy;
  random?: () => number;
}

interface Bridge {
  processor?: WebSocket;
  /** Frames for the processor that arrived before its socket opened. */
  pending: string[];
  /** The processor's frames not yet sent up, and their size: sent together when their window ends. */
  upward: string[];
  upwardChars: number;
  upwardWindow: FlushWindow;
  /** What went up: the processor's frames, and the tunnel messages that carried them. */
  relayed: { frames: number; messages: number };
}

/**
 * `theory agent`: dials the control plane (no inbound port), says Hello, heartbeats, and bridges
 * each dispatched run to ws://127.0.0.1:{port}/run of the container localctl started. Frames pass
 * through as their original text. Reconnects with capped backoff until stopped, except when the
 * control plane refuses it for good (docs/protocols.md#the-agents-lifecycle); never starts anything.
 * A library: it never exits the process, it reports how it ended through `finished()`.
 */
export class AgentDaemon {
  private readonly options: Required<Omit<AgentDaemonOptions, "random">> & { random: () => number };
  private socket?: WebSocket;
  private readonly bridges = new Map<string, Bridge>();
  private attempt = 0;
  private stopped = false;
  private heartbeat?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  private awaitingPong = 0;
  /** Whether processors' sockets are paused because the tunnel's queue is full. */
  private throttled = false;
  /** Resolves each time a Hello was sent (tests and the CLI wait on the first). */
  private onReady: (() => void)[] = [];
  /** How this run of the daemon ends: stop() resolves it, a permanent refusal rejects it. */
  private outcome = settledOutcome();
  /** Set when the control plane refused the connection now closing for good (401/403 upgrade). */
  private refusal?: TheoryError;

  constructor(options: AgentDaemonOptions) {
    this.options = { heartbeatMs: 15_000, reconnect: RECONNECT_BACKOFF, random: Math.random, ...options };
  }

  start(): void {
    this.stopped = false;
    this.refusal = undefined;
    this.outcome = pendingOutcome();
    this.connect();
  }

  /**
   * Settles when the daemon stops: resolves after stop(), rejects with ERR_AUTH when the control
   * plane refused it for good (the upgrade answered 401 or 403, or the tunnel closed 1008).
   */
  finished(): Promise<void> {
    return this.outcome.promise;
  }

  /** Resolves once connected and Hello was sent. */
  ready(): Promise<void> {
    return new Promise((resolve) => this.onReady.push(resolve));
  }

  async stop(): Promise<void> {
    this.halt();
    this.outcome.resolve();
    const socket = this.socket;
    if (socket && socket.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        socket.once("close", () => resolve());
        socket.close(1001, "agent stopping");
      });
    }
  }

  /** No reconnect, no heartbeat, no bridges: the daemon is done, however it ended. */
  private halt(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    for (const bridge of this.bridges.values()) bridge.processor?.close(1001, "agent stopping");
    this.bridges.clear();
  }

  private get log() {
    return this.options.log;
  }

  private connect(): void {
    const url = `${this.options.controlPlane.replace(/^http/, "ws").replace(/\/+$/, "")}/v1/agents/connect`;
    this.log.info("ws.connect.start", { agent: this.options.agentId, attempt: this.attempt });
    const socket = new WebSocket(url, [AGENT_SUBPROTOCOL], {
      headers: { Authorization: `Bearer ${this.options.token}` },
      maxPayload: 2 * MAX_FRAME_BYTES,
    });
    this.socket = socket;
    socket.on("open", () => void this.onOpen(socket));
    socket.on("message", (data, isBinary) => {
      if (!isBinary) this.onControl(data.toString());
    });
    socket.on("unexpected-response", (_request, response) => {
      const status = response.statusCode ?? 0;
      this.log.error("ws.connect.error", { agent: this.options.agentId, status });
      if (status !== 401 && status !== 403) return socket.terminate();
      // A credential the control plane rejects stays rejected: say why, then stop for good.
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        if (body.length < REFUSAL_BODY_MAX_BYTES) body += chunk;
      });
      response.on("error", () => {});
      response.once("close", () => {
        this.refusal = this.refused(`${apiErrorMessage(body) ?? "credential refused"} (HTTP ${status})`);
        socket.terminate();
      });
    });
    socket.on("error", (error) =>
      this.log.warn("ws.connect.error", { agent: this.options.agentId, error: error.message }),
    );
    socket.on("close", (code, reason) => this.onClose(socket, code, reason.toString()));
  }

  private refused(why: string): TheoryError {
    return new TheoryError(
      "ERR_AUTH",
      `the control plane refused agent ${this.options.agentId}: ${why}; ` +
        "THEORY_AGENT_TOKEN needs agents:connect and must be issued for this agent id",
    );
  }

  private async onOpen(socket: WebSocket): Promise<void> {
    this.attempt = 0;
    this.awaitingPong = 0;
    this.log.info("ws.connect.ok", { agent: this.options.agentId, protocol: socket.protocol });
    this.send({
      kind: "Hello",
      content: { agent_id: this.options.agentId, platform: this.options.platform, tools: await this.tools() },
    });
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      // Two heartbeats without a Pong: the tunnel is dead even if TCP has not noticed.
      if (this.awaitingPong >= 2) return socket.terminate();
      this.awaitingPong++;
      socket.send(HEARTBEAT_PING);
    }, this.options.heartbeatMs).unref();
    for (const resolve of this.onReady.splice(0)) resolve();
  }

  /** What this machine serves now: localctl's started containers, with a health probe each. */
  private async tools(): Promise<AgentTool[]> {
    const containers = await readContainers(this.options.home);
    return Promise.all(
      Object.values(containers).map(async (record) => ({
        ref: record.ref,
        image_digest: record.image_digest,
        healthy: await containerHealthy(record.port, HEALTH_PROBE_MS),
      })),
    );
  }

  private onClose(socket: WebSocket, code: number, reason: string) {
    if (this.socket !== socket) return;
    clearInterval(this.heartbeat);
    // The control plane settles runs whose agent vanished; nothing is left to bridge here.
    for (const bridge of this.bridges.values()) bridge.processor?.close(1001, "tunnel lost");
    this.bridges.clear();
    this.throttled = false;
    if (this.stopped) return;
    const refusal =
      this.refusal ??
      (code === CLOSE_POLICY_VIOLATION
        ? this.refused(`${reason.replace(/^ERR_[A-Z_]+: /, "") || "policy violation"} (close ${code})`)
        : undefined);
    if (refusal) {
      this.halt();
      this.log.error("agent.refused", { agent: this.options.agentId, code, message: refusal.message });
      this.outcome.reject(refusal);
      return;
    }
    const delay = backoffDelay(this.options.reconnect, this.attempt++, this.options.random);
    this.log.warn("agent.reconnect", { agent: this.options.agentId, code, delay_ms: delay });
    // Not unref()ed: while the control plane is away this timer is all that keeps the process alive.
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private send(frame: AgentFrame): void {
    const socket = this.socket;
    if (socket?.readyState !== WebSocket.OPEN) return;
    // Plain JSON: tunnel frames are never compared or stored, and a batch of thousands of frames
    // would otherwise be walked and re-ordered key by key on the hot path.
    socket.send(JSON.stringify(frame), () => this.relieve(socket));
    if (!this.throttled && socket.bufferedAmount > TUNNEL_HIGH_WATER_BYTES) {
      this.throttled = true;
      for (const bridge of this.bridges.values()) bridge.processor?.pause();
    }
  }

  /** After a write left for the control plane: reads from processors again once the queue drained. */
  private relieve(socket: WebSocket): void {
    if (!this.throttled || socket !== this.socket || socket.bufferedAmount > TUNNEL_HIGH_WATER_BYTES / 4)
      return;
    this.throttled = false;
    for (const bridge of this.bridges.values()) bridge.processor?.resume();
  }

  private onControl(text: string) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.log.warn("agent.frame.invalid", { reason: "not JSON" });
    }
    const parsed = ControlFrameSchema.safeParse(json);
    if (!parsed.success)
      return this.log.warn("agent.frame.invalid", { reason: "unknown or malformed frame" });
    this.dispatch(parsed.data);
  }

  private dispatch(frame: ControlFrame): void {
    switch (frame.kind) {
      case "Pong":
        this.awaitingPong = 0;
        return;
      case "Dispatch":
        void this.bridge(frame.content.run_id, frame.content.ref);
        return;
      case "Relay": {
        const bridge = this.bridges.get(frame.content.run_id);
        if (!bridge) return;
        if (bridge.processor?.readyState === WebSocket.OPEN) bridge.processor.send(frame.content.data);
        else bridge.pending.push(frame.content.data);
        return;
      }
      case "CloseRun":
        this.bridges.get(frame.content.run_id)?.upwardWindow.cancel();
        this.bridges.get(frame.content.run_id)?.processor?.close(1000, "closed by the control plane");
        this.bridges.delete(frame.content.run_id);
        return;
      default: {
        const unreachable: never = frame;
        this.log.warn("agent.frame.invalid", { reason: `unhandled ${String(unreachable)}` });
      }
    }
  }

  private fail(runId: string, error: ErrorBody) {
    this.bridges.delete(runId);
    this.log.warn("error.agent.dispatch", { execution_id: runId, code: error.code });
    this.send({ kind: "DispatchFailed", content: { run_id: runId, error } });
  }

  /** One run: a socket to the started container; its frames go up unchanged until it closes. */
  private async bridge(runId: string, ref: string): Promise<void> {
    const bridge: Bridge = {
      pending: [],
      upward: [],
      upwardChars: 0,
      upwardWindow: new FlushWindow({
        windowMs: RELAY_WINDOW_MS,
        flush: () => this.flushUp(runId, bridge),
        leading: "turn",
      }),
      relayed: { frames: 0, messages: 0 },
    };
    this.bridges.set(runId, bridge);
    const record = (await readContainers(this.options.home))[ref];
    if (!record) {
      return this.fail(runId, {
        code: "ERR_HEALTH",
        message: `${ref} is not started here (theory localctl start --ref ${ref})`,
      });
    }
    const healthy = await containerHealthy(record.port, HEALTH_PROBE_MS);
    if (!healthy)
      return this.fail(runId, { code: "ERR_HEALTH", message: `${ref} is started but not healthy` });
    if (!this.bridges.has(runId)) return; // closed by the control plane meanwhile
    const processor = new WebSocket(`ws://127.0.0.1:${record.port}/run`, [RUN_SUBPROTOCOL], {
      headers: processorAuthHeaders(record.processor_token),
      maxPayload: MAX_FRAME_BYTES,
    });
    bridge.processor = processor;
    let opened = false;
    processor.on("open", () => {
      opened = true;
      if (this.throttled) processor.pause();
      this.log.info("ws.run.start", { execution_id: runId, ref, target: "local" });
      for (const data of bridge.pending.splice(0)) processor.send(data);
    });
    processor.on("message", (data, isBinary) => {
      if (!isBinary) this.relayUp(runId, bridge, data.toString());
    });
    // Answered without an upgrade: refused (its token: ERR_AUTH), by the one mapping every
    // connector uses.
    processor.on("unexpected-response", (request, response) => {
      response.resume();
      request.destroy();
      if (this.bridges.has(runId)) this.fail(runId, refusedHandshake(response.statusCode ?? 0).toBody());
    });
    processor.on("error", (error) => {
      if (!opened && this.bridges.has(runId))
        this.fail(runId, { code: "ERR_HEALTH", message: `${ref} refused the run session` });
      this.log.warn("ws.run.error", { execution_id: runId, error: error.message });
    });
    processor.on("close", (code, reason) => {
      if (!opened || !this.bridges.has(runId)) return;
      this.flushUp(runId, bridge);
      this.bridges.delete(runId);
      this.log.info("ws.run.settle", { execution_id: runId, ref, code, relayed: bridge.relayed });
      this.send({
        kind: "RunClosed",
        content: { run_id: runId, code, reason: reason.toString().slice(0, 123) },
      });
    });
  }

  /**
   * A processor frame, toward the control plane: frames that arrive together go up as one RelayBatch,
   * and while they keep coming, one RelayBatch per RELAY_WINDOW_MS (a frame too large to share a
   * message goes alone, in order).
   */
  private relayUp(runId: string, bridge: Bridge, text: string): void {
    if (bridge.upwardChars + text.length > RELAY_BATCH_MAX_BYTES) this.flushUp(runId, bridge);
    if (text.length > RELAY_BATCH_MAX_BYTES) {
      this.send({ kind: "Relay", content: { run_id: runId, data: text } });
      bridge.relayed.frames++;
      bridge.relayed.messages++;
      return;
    }
    bridge.upward.push(text);
    bridge.upwardWindow.added();
    bridge.upwardChars += text.length;
  }

  private flushUp(runId: string, bridge: Bridge): void {
    if (bridge.upward.length === 0) {
      bridge.upwardWindow.cancel();
      return;
    }
    bridge.upwardWindow.flushed();
    const frames = bridge.upward;
    bridge.relayed.frames += frames.length;
    bridge.relayed.messages++;
    bridge.upward = [];
    bridge.upwardChars = 0;
    this.send(
      frames.length === 1
        ? { kind: "Relay", content: { run_id: runId, data: frames[0] as string } }
        : { kind: "RelayBatch", content: { run_id: runId, frames } },
    );
  }
}

interface Outcome {
  promise: Promise<void>;
  resolve(): void;
  reject(error: TheoryError): void;
}

function pendingOutcome(): Outcome {
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  // Whoever awaits finished() sees a rejection; a daemon nobody awaits must not crash the process.
  promise.catch(() => {});
  return { promise, resolve: () => resolve(), reject };
}

function settledOutcome(): Outcome {
  const outcome = pendingOutcome();
  outcome.resolve();
  return outcome;
}

/** The message of an API error body ({"status":"error","error":{"code","message"}}), if it is one. */
function apiErrorMessage(body: string): string | undefined {
  try {
    const message = (JSON.parse(body) as { error?: { message?: unknown } }).error?.message;
    return typeof message === "string" ? message : undefined;
  } catch {
    return undefined;
  }
}
