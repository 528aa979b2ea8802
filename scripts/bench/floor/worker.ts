// The benchmark floor (see wrangler.toml beside this file): Worker -> Durable Object -> one
// WebSocket run to the processor. POST /run answers the RunResult frame; POST /run-stream answers
// every frame as an SSE event. The body is the processor payload.
import { DurableObject } from "cloudflare:workers";

interface FloorEnv {
  FLOOR_RUN: DurableObjectNamespace<FloorRun>;
  PROCESSOR_URL: string;
  PROCESSOR_TOKEN: string;
}

const encoder = new TextEncoder();

export class FloorRun extends DurableObject<FloorEnv> {
  override async fetch(request: Request): Promise<Response> {
    const payload = await request.text();
    const upgrade = await fetch(`${this.env.PROCESSOR_URL}/run`, {
      headers: {
        Upgrade: "websocket",
        "Sec-WebSocket-Protocol": "theory.run.v1",
        Authorization: `Bearer ${this.env.PROCESSOR_TOKEN}`,
      },
    });
    const socket = upgrade.webSocket;
    if (!socket) return new Response("no websocket", { status: 502 });
    socket.accept();
    socket.send(`{"kind":"RunOpen","content":{"role":"client","payload":${payload}}}`);
    // Canonical JSON puts "kind" last: a frame is the result when it ends so.
    const isResult = (text: string) => text.endsWith('"kind":"RunResult"}');
    if (new URL(request.url).pathname === "/run") {
      return new Promise((resolve) => {
        socket.addEventListener("message", (event) => {
          const text = String(event.data);
          if (isResult(text))
            resolve(new Response(text, { headers: { "content-type": "application/json" } }));
        });
        socket.addEventListener("close", () => resolve(new Response("closed early", { status: 502 })));
      });
    }
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    socket.addEventListener("message", (event) => {
      const text = String(event.data);
      void writer.write(encoder.encode(`data: ${text}\n\n`));
      if (isResult(text)) void writer.close();
    });
    socket.addEventListener("close", () => void writer.close().catch(() => {}));
    return new Response(readable, { headers: { "content-type": "text/event-stream" } });
  }
}

export default {
  async fetch(request: Request, env: FloorEnv): Promise<Response> {
    if (new URL(request.url).pathname === "/healthz") return Response.json({ ok: true });
    return env.FLOOR_RUN.getByName(crypto.randomUUID()).fetch(request);
  },
};
