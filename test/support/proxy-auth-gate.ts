import { createServer, request as httpRequest } from "node:http";
import { type AddressInfo, connect } from "node:net";

/**
 * Stands in for Modal's proxy auth in front of a processor: requests (health checks and the
 * WebSocket upgrade) pass only with the expected Modal-Key / Modal-Secret headers, else 401.
 */
export async function startProxyAuthGate(options: { targetPort: number; key: string; secret: string }) {
  const admitted = (headers: Record<string, string | string[] | undefined>) =>
    headers["modal-key"] === options.key && headers["modal-secret"] === options.secret;
  const server = createServer((req, res) => {
    if (!admitted(req.headers)) return void res.writeHead(401).end("missing or wrong proxy auth");
    const upstream = httpRequest(
      {
        host: "127.0.0.1",
        port: options.targetPort,
        path: req.url,
        method: req.method,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    // Nothing listening behind it yet (a container still starting): 502, as a proxy answers.
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.on("upgrade", (req, socket, head) => {
    if (!admitted(req.headers))
      return void socket.end("HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n");
    const upstream = connect(options.targetPort, "127.0.0.1", () => {
      const lines = [
        `${req.method} ${req.url} HTTP/1.1`,
        ...Object.entries(req.headers).map(([name, value]) => `${name}: ${value}`),
      ];
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
