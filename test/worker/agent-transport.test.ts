import { describe, expect, it } from "vitest";
import { RUN_SUBPROTOCOL } from "../../src/contract/frames.ts";
import { createLogger } from "../../src/core/log.ts";
import { agentTransport } from "../../src/worker/transports/agent-transport.ts";

describe("the agent transport", () => {
  it("logs ws.connect.ok naming the subprotocol the run's session speaks through the tunnel", async () => {
    const lines: string[] = [];
    const [tunnelSide, runSide] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    tunnelSide.accept();
    const transport = agentTransport({
      tunnel: { fetch: async () => new Response(null, { status: 101, webSocket: runSide }) },
      agentId: "box",
      log: createLogger({ sink: (line) => lines.push(line) }),
    });
    const session = await transport.open(
      { ref: "echo/text@1", runId: "transport-1" },
      { onMessage: () => {}, onClose: () => {}, onError: () => {} },
    );
    session.close(1000, "done");
    const connected = lines.map((line) => JSON.parse(line)).find((line) => line.event === "ws.connect.ok");
    expect(connected).toMatchObject({
      ref: "echo/text@1",
      execution_id: "transport-1",
      agent: "box",
      protocol: RUN_SUBPROTOCOL,
    });
  });
});
