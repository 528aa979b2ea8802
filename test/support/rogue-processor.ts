import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

/**
 * A peer that speaks just enough theory.run.v1 to misbehave on purpose: `script` gets the socket
 * and the RunOpen payload. `health` is the /healthz status it answers; an unhealthy one (not 2xx)
 * answers the WebSocket upgrade with that status too, as a sick endpoint behind a proxy does.
 */
export async function startRogueProcessor(options: {
  health?: number;
  script?: (socket: WebSocket, payload: any) => void;
}) {
  const server = createServer((req, res) => {
    res.writeHead(req.url === "/healthz" ? (options.health ?? 200) : 404).end("{}");
  });
  const unhealthy = options.health !== undefined && (options.health < 200 || options.health > 299);
  const wss = new WebSocketServer({
    server,
    path: "/run",
    handleProtocols: (offered) => [...offered][0] ?? false,
    verifyClient: (_info, done) => (unhealthy ? done(false, options.health) : done(true)),
  });
  wss.on("connection", (socket) => {
    socket.once("message", (data) => options.script?.(socket, JSON.parse(data.toString()).content.payload));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        server.close(() => resolve());
      }),
  };
}
