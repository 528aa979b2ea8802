import { DurableObject } from "cloudflare:workers";
import {
  AGENT_SUBPROTOCOL,
  type AgentFrame,
  AgentFrameSchema,
  type AgentTool,
  CLOSE_RUN_FAILED,
  CLOSE_RUN_RELAYED,
  type ControlFrame,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  IMAGE_DIGEST_HEADER,
  isSendableCloseCode,
  relayedCloseReason,
  runFailedReason,
} from "../src/contract/agent-frames.ts";
import type { AgentStatus } from "../src/contract/api.ts";
import type { Platform } from "../src/contract/primitives.ts";
import { canonicalJson } from "../src/core/canonical.ts";
import { runtimeFor } from "../src/worker/runtime.ts";

type Attachment = { kind: "agent"; agent_id: string } | { kind: "run"; run_id: string };

const AGENT_TAG = "agent";
const runTag = (runId: string) => `run:${runId}`;

/**
 * One per agent id: holds the agent's outbound tunnel (hibernatable), its Hello, answers heartbeats
 * without waking (auto-response), and relays run sessions: a RunSession dials in per run, and every
 * frame passes to the agent and back as its original text.
 */
export class AgentTunnel extends DurableObject<Env> {
  /** Sockets' attachments and the run sockets by run id, read once per instance (they survive hibernation in storage). */
  private readonly attachments = new WeakMap<WebSocket, Attachment>();
  private readonly runSockets = new Map<string, WebSocket>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS agent (id INTEGER PRIMARY KEY CHECK (id = 1), agent_id TEXT NOT NULL, platform TEXT, tools TEXT NOT NULL DEFAULT '[]', hello INTEGER NOT NULL DEFAULT 0, last_seen TEXT)",
    );
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
  }

  private get log() {
    return runtimeFor(this.env).log.child({ target: "local" });
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket")
      return new Response("upgrade required", { status: 426 });
    if (url.pathname === "/agent") return this.acceptAgent(url.searchParams.get("agent_id") ?? "");
    if (url.pathname === "/run")
      return this.acceptRun(url.searchParams.get("run_id") ?? "", url.searchParams.get("ref") ?? "");
    return new Response("not found", { status: 404 });
  }

  async status(agentId: string): Promise<AgentStatus> {
    const row = this.row();
    const socket = this.agentSocket();
    const pinged = socket ? this.ctx.getWebSocketAutoResponseTimestamp(socket) : null;
    const lastSeen = [row?.last_seen ? Date.parse(row.last_seen) : 0, pinged?.getTime() ?? 0].reduce((a, b) =>
      Math.max(a, b),
    );
    return {
      agent_id: agentId,
      online: socket !== undefined && row?.hello === 1,
      last_seen: lastSeen > 0 ? new Date(lastSeen).toISOString() : null,
      platform: (row?.platform as Platform | null) ?? null,
      tools: row ? (JSON.parse(row.tools) as AgentTool[]) : [],
    };
  }

  private row() {
    return this.ctx.storage.sql
      .exec<{
        agent_id: string;
        platform: string | null;
        tools: string;
        hello: number;
        last_seen: string | null;
      }>("SELECT * FROM agent WHERE id = 1")
      .toArray()[0];
  }

  private agentSocket(): WebSocket | undefined {
    return this.ctx.getWebSockets(AGENT_TAG)[0];
  }

  private acceptAgent(agentId: string): Response {
    // A new connection replaces an old one (the agent reconnected before the old socket timed out).
    for (const old of this.ctx.getWebSockets(AGENT_TAG)) old.close(1012, "replaced by a new connection");
    this.ctx.storage.sql.exec(
      "INSERT INTO agent (id, agent_id, hello, last_seen) VALUES (1, ?, 0, ?) ON CONFLICT(id) DO UPDATE SET agent_id = excluded.agent_id, hello = 0, last_seen = excluded.last_seen",
      agentId,
      new Date().toISOString(),
    );
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [AGENT_TAG]);
    pair[1].serializeAttachment({ kind: "agent", agent_id: agentId } satisfies Attachment);
    this.log.info("agent.connect", { agent: agentId });
    return new Response(null, {
      status: 101,
      webSocket: pair[0],
      headers: { "Sec-WebSocket-Protocol": AGENT_SUBPROTOCOL },
    });
  }

  private acceptRun(runId: string, ref: string): Response {
    const agent = this.agentSocket();
    const row = this.row();
    if (!agent || row?.hello !== 1) return new Response("agent not connected", { status: 503 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1], [runTag(runId)]);
    pair[1].serializeAttachment({ kind: "run", run_id: runId } satisfies Attachment);
    this.sendAgent(agent, { kind: "Dispatch", content: { run_id: runId, ref } });
    // The digest the agent's Hello reported for the tool: the image the run is expected to meet.
    const tool = (JSON.parse(row.tools) as AgentTool[]).find((candidate) => candidate.ref === ref);
    const headers: Record<string, string> = tool ? { [IMAGE_DIGEST_HEADER]: tool.image_digest } : {};
    return new Response(null, { status: 101, webSocket: pair[0], headers });
  }

  private sendAgent(agent: WebSocket, frame: ControlFrame): void {
    agent.send(canonicalJson(frame));
  }

  private runSocket(runId: string): WebSocket | undefined {
    let socket = this.runSockets.get(runId);
    if (!socket) {
      socket = this.ctx.getWebSockets(runTag(runId))[0];
      if (socket) this.runSockets.set(runId, socket);
    }
    return socket;
  }

  private attachmentOf(ws: WebSocket): Attachment {
    let attachment = this.attachments.get(ws);
    if (!attachment) {
      attachment = ws.deserializeAttachment() as Attachment;
      this.attachments.set(ws, attachment);
    }
    return attachment;
  }

  /**
   * Every frame on the agent's tunnel comes through here, processor frames in Relay and RelayBatch
   * messages: each message is parsed once and its frames handed on, and nothing is written to
   * storage (last_seen comes from Hello and from the heartbeats the platform answers).
   */
  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    const attachment = this.attachmentOf(ws);
    if (typeof message !== "string") return ws.close(1003, "text frames only");
    if (attachment.kind === "run") {
      // A client frame from the RunSession (RunOpen, Cancel): to the agent, unchanged.
      const agent = this.agentSocket();
      if (agent)
        this.sendAgent(agent, { kind: "Relay", content: { run_id: attachment.run_id, data: message } });
      else ws.close(CLOSE_RUN_FAILED, runFailedReason("ERR_ENDPOINT_MISSING", "agent disconnected"));
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(message);
    } catch {
      return ws.close(1002, "ERR_INPUTS: malformed frame");
    }
    const parsed = AgentFrameSchema.safeParse(raw);
    if (!parsed.success) return ws.close(1002, "ERR_INPUTS: unknown or malformed frame");
    this.onAgentFrame(ws, attachment.agent_id, parsed.data);
  }

  private onAgentFrame(ws: WebSocket, agentId: string, frame: AgentFrame) {
    switch (frame.kind) {
      case "Hello":
        if (frame.content.agent_id !== agentId) return ws.close(1008, "ERR_AUTH: Hello names another agent");
        this.ctx.storage.sql.exec(
          "UPDATE agent SET platform = ?, tools = ?, hello = 1, last_seen = ? WHERE id = 1",
          frame.content.platform,
          JSON.stringify(frame.content.tools),
          new Date().toISOString(),
        );
        this.log.info("agent.hello", {
          agent: agentId,
          platform: frame.content.platform,
          tools: frame.content.tools.length,
        });
        return;
      case "Ping":
        // Normally answered by the auto-response without waking; this path covers any other spelling.
        return this.sendAgent(ws, { kind: "Pong", content: {} });
      case "Relay":
        this.runSocket(frame.content.run_id)?.send(frame.content.data);
        return;
      case "RelayBatch":
        // Passed on as one message too (a JSON array of the frames' texts); the run's transport unpacks it.
        this.runSocket(frame.content.run_id)?.send(JSON.stringify(frame.content.frames));
        return;
      case "RunClosed": {
        // A code a socket may not be closed with (1006 when the processor died) travels in the reason.
        const { code, reason } = frame.content;
        if (code === 1005) this.runSocket(frame.content.run_id)?.close(1000, reason);
        else if (isSendableCloseCode(code)) this.runSocket(frame.content.run_id)?.close(code, reason);
        else this.runSocket(frame.content.run_id)?.close(CLOSE_RUN_RELAYED, relayedCloseReason(code, reason));
        return;
      }
      case "DispatchFailed":
        this.runSocket(frame.content.run_id)?.close(
          CLOSE_RUN_FAILED,
          runFailedReason(frame.content.error.code, frame.content.error.message),
        );
        return;
      default: {
        const unreachable: never = frame;
        return ws.close(1002, `ERR_INPUTS: unhandled frame ${String(unreachable)}`);
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    const attachment = this.attachmentOf(ws);
    try {
      ws.close(isSendableCloseCode(code) ? code : 1000, reason);
    } catch {
      // Already closed.
    }
    if (attachment.kind === "run") {
      this.runSockets.delete(attachment.run_id);
      const agent = this.agentSocket();
      if (agent) this.sendAgent(agent, { kind: "CloseRun", content: { run_id: attachment.run_id } });
      return;
    }
    if (this.agentSocket() && this.agentSocket() !== ws) return; // replaced; the new one carries on
    this.ctx.storage.sql.exec(
      "UPDATE agent SET hello = 0, last_seen = ? WHERE id = 1",
      new Date().toISOString(),
    );
    this.log.warn("agent.disconnect", { agent: attachment.agent_id, code });
    // Runs in flight cannot finish without their agent: settle them now, not at their timeout.
    for (const socket of this.ctx.getWebSockets()) {
      const other = this.attachmentOf(socket);
      if (other.kind === "run")
        socket.close(CLOSE_RUN_FAILED, runFailedReason("ERR_ENDPOINT_MISSING", "agent disconnected mid-run"));
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    await this.webSocketClose(ws, 1011, "socket error");
  }
}
