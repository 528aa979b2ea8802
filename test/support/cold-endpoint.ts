import { type AddressInfo, connect, createServer } from "node:net";

/**
 * A processor endpoint that is cold: after `idleMs` without connections, the next connection
 * starts a cold start of `coldMs` during which every connection is refused (reset), as an endpoint
 * that is still booting refuses them; afterwards connections reach the processor at `targetPort`.
 */
export async function startColdEndpoint(options: { targetPort: number; coldMs: number; idleMs: number }) {
  let lastConnection = 0;
  let warmAt = 0;
  const server = createServer((socket) => {
    const now = Date.now();
    if (now - lastConnection >= options.idleMs) warmAt = now + options.coldMs;
    lastConnection = now;
    if (now < warmAt) return void socket.resetAndDestroy();
    const upstream = connect(options.targetPort, "127.0.0.1", () => socket.pipe(upstream).pipe(socket));
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
