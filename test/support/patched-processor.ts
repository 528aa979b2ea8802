import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import type { Tool } from "../../processor/tools/tool.ts";
import { MAX_FRAME_BYTES, RUN_SUBPROTOCOL } from "../../src/contract/frames.ts";
import { startProcessor } from "./processor.ts";

/** One behaviour of the processor changed on the way to the client. */
export interface Patch {
  /** The texts the client gets for one processor frame (none drops it). */
  frame?(text: string): string[];
  /** The close code the client sees for the processor's. */
  closeCode?(code: number): number;
  /** An HTTP answer as the client gets it. */
  response?(answer: { path: string; status: number; body: string }): { status: number; body: string };
  /** Tools the processor runs instead of the image's own. */
  tools?: readonly Tool[];
}

export interface PatchedProcessor {
  url: string;
  artifactsRoot: string;
  close(): Promise<void>;
}

/** Close codes a WebSocket may not send (no status, abnormal): the client sees the connection drop. */
const UNSENDABLE = new Set([1005, 1006, 1015]);

/**
 * The real processor (from source) behind a loopback proxy that applies `patch`: a processor that is
 * right in everything but one rule, for the conformance kit to catch.
 */
export async function startPatchedProcessor(toolRef: string, patch: Patch): Promise<PatchedProcessor> {
  const upstream = await startProcessor({ toolRef, ...(patch.tools ? { tools: patch.tools } : {}) });
  const target = new URL(upstream.http);
  const server = createServer((req, res) => {
    let answered = false;
    const forward = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (upstreamRes) => {
        const chunks: Buffer[] = [];
        upstreamRes.on("data", (chunk: Buffer) => chunks.push(chunk));
        upstreamRes.on("end", () => {
          answered = true;
          const path = new URL(req.url ?? "/", "http://proxy").pathname;
          const original = {
            path,
            status: upstreamRes.statusCode ?? 500,
            body: Buffer.concat(chunks).toString(),
          };
          const { status, body } = patch.response?.(original) ?? original;
          res.writeHead(status, {
            "content-type": upstreamRes.headers["content-type"] ?? "application/json",
            "content-length": Buffer.byteLength(body),
            connection: "close",
          });
          res.end(body);
        });
      },
    );
    // The processor may answer (413) and hang up before the body is all sent: that is its answer.
    forward.on("error", () => {
      if (!answered && !res.headersSent) res.writeHead(502).end();
    });
    req.pipe(forward);
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 2 * MAX_FRAME_BYTES,
    handleProtocols: () => RUN_SUBPROTOCOL,
  });
  server.on("upgrade", (req, socket, head) => {
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (new URL(req.url ?? "/", "http://proxy").pathname !== "/run" || !offered.includes(RUN_SUBPROTOCOL)) {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    // The client's credentials go on to the processor, as through any proxy.
    const authorization = req.headers.authorization;
    wss.handleUpgrade(req, socket, head, (client) => relay(client, upstream.ws, patch, authorization));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    artifactsRoot: upstream.artifactsRoot,
    async close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await upstream.close();
    },
  };
}

/** Frames both ways between a client and the processor, the processor's through the patch. */
function relay(client: WebSocket, upstreamUrl: string, patch: Patch, authorization?: string): void {
  const upstream = new WebSocket(upstreamUrl, [RUN_SUBPROTOCOL], {
    maxPayload: 2 * MAX_FRAME_BYTES,
    headers: authorization ? { authorization } : {},
  });
  const pending: [WebSocket.RawData, boolean][] = [];
  client.on("message", (data, isBinary) => {
    if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary: isBinary });
    else pending.push([data, isBinary]);
  });
  upstream.on("open", () => {
    for (const [data, isBinary] of pending.splice(0)) upstream.send(data, { binary: isBinary });
  });
  upstream.on("message", (data) => {
    for (const text of patch.frame?.(data.toString()) ?? [data.toString()]) client.send(text);
  });
  upstream.on("close", (code, reason) => {
    const seen = patch.closeCode?.(code) ?? code;
    if (UNSENDABLE.has(seen)) client.terminate();
    else client.close(seen, reason);
  });
  upstream.on("error", () => client.terminate());
  client.on("close", () => upstream.close());
}
