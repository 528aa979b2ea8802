import { IMAGE_DIGEST_HEADER } from "../../contract/agent-frames.ts";
import { RUN_SUBPROTOCOL } from "../../contract/frames.ts";
import { DigestSchema } from "../../contract/primitives.ts";
import { TheoryError } from "../../core/errors.ts";
import type { Logger } from "../../core/log.ts";
import type { RunTransport, TransportHandlers } from "../../engine/transport.ts";
import { wireSocket } from "./workerd-socket.ts";

/** What the local transport needs of an agent's tunnel: a way to open one run's socket through it. */
export interface TunnelDialer {
  fetch(request: Request): Promise<Response>;
}

/**
 * The local transport: one run session through the agent's AgentTunnel, which relays frames to the
 * agent and back unchanged. Agent not connected -> ERR_ENDPOINT_MISSING at once. The session
 * carries the digest the agent's Hello reported for the tool, as the tunnel says.
 */
export function agentTransport(deps: { tunnel: TunnelDialer; agentId: string; log?: Logger }): RunTransport {
  return {
    async open({ ref, runId }, handlers) {
      const url = new URL("https://agent-tunnel/run");
      url.searchParams.set("run_id", runId);
      url.searchParams.set("ref", ref);
      const response = await deps.tunnel.fetch(new Request(url, { headers: { Upgrade: "websocket" } }));
      const socket = response.webSocket;
      if (!socket) {
        await response.body?.cancel();
        deps.log?.warn("adapter.agent.absent", { ref, execution_id: runId, agent: deps.agentId });
        throw new TheoryError("ERR_ENDPOINT_MISSING", `agent ${deps.agentId} is not connected`);
      }
      socket.accept();
      // The tunnel relays theory.run.v1 frames: the run's session speaks that, as on the endpoint path.
      deps.log?.info("ws.connect.ok", {
        ref,
        execution_id: runId,
        agent: deps.agentId,
        protocol: RUN_SUBPROTOCOL,
      });
      const session = wireSocket(socket, { ...handlers, onMessage: (text) => unbatch(text, handlers) });
      const digest = DigestSchema.safeParse(response.headers.get(IMAGE_DIGEST_HEADER));
      return digest.success ? { ...session, imageDigest: digest.data } : session;
    },
  };
}

/**
 * The tunnel hands a run's frames on one message each, or several that the agent sent together as
 * one JSON array of their texts (docs/protocols.md#theoryagentv1): each text reaches the
 * orchestrator unchanged, in order.
 */
function unbatch(text: string, handlers: TransportHandlers): void {
  if (!text.startsWith("[")) {
    handlers.onMessage(text);
    return;
  }
  let frames: unknown;
  try {
    frames = JSON.parse(text);
  } catch {
    frames = undefined;
  }
  if (!Array.isArray(frames) || !frames.every((frame) => typeof frame === "string")) {
    handlers.onError(new TheoryError("ERR_INTERNAL", "the agent tunnel sent a malformed batch"));
    return;
  }
  for (const frame of frames) handlers.onMessage(frame);
}
