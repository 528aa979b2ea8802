import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { MAX_FRAME_BYTES, RUN_SUBPROTOCOL } from "../src/contract/frames.ts";
import { TheoryError } from "../src/core/errors.ts";
import type { Logger } from "../src/core/log.ts";
import { bearerCheck, refusal } from "./auth.ts";
import type { ProcessorConfig } from "./config.ts";
import { handleRunHttp, sendHealth, sendNotFound } from "./http.ts";
import type { RunDeps } from "./run-tool.ts";
import type { Tool } from "./tools/tool.ts";
import { RunSocketSession } from "./ws-session.ts";

export interface ProcessorServer {
  readonly http: Server;
  listen(): Promise<number>;
  close(): Promise<void>;
}

export function createProcessorServer(options: {
  config: ProcessorConfig;
  tools: readonly Tool[];
  log: Logger;
  fetch?: typeof fetch;
}): ProcessorServer {
  const tool = options.tools.find((candidate) => candidate.definition.ref === options.config.toolRef);
  if (!tool)
    throw new TheoryError("ERR_INPUTS", `TOOL_REF ${options.config.toolRef} is not carried by this image`);
  const deps: RunDeps = { config: options.config, tool, log: options.log, fetch: options.fetch };
  const admitted = bearerCheck(options.config.processorToken);
  const refuse = (route: string) => {
    options.log.warn("error.auth", { route, code: "ERR_AUTH" });
    return refusal(options.config);
  };

  const http = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://processor").pathname;
    const route = `${req.method} ${path}`;
    if (route === "GET /healthz") return sendHealth(res);
    if (route === "POST /run" || route === "POST /run-stream") {
      if (!admitted(req.headers)) {
        const { body, headers } = refuse(route);
        return void res.writeHead(401, headers).end(body);
      }
      return void handleRunHttp(req, res, deps, path === "/run-stream").catch((error: unknown) => {
        options.log.error("error.http.run", { error: error as Error });
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    }
    sendNotFound(res, deps, route);
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_FRAME_BYTES,
    handleProtocols: (offered) => (offered.has(RUN_SUBPROTOCOL) ? RUN_SUBPROTOCOL : false),
  });
  http.on("upgrade", (req, socket, head) => {
    const path = new URL(req.url ?? "/", "http://processor").pathname;
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    if (path === "/run" && !admitted(req.headers)) {
      const { body, headers } = refuse("GET /run (upgrade)");
      const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
      socket.end(`HTTP/1.1 401 Unauthorized\r\n${lines.join("\r\n")}\r\n\r\n${body}`);
      return;
    }
    if (path !== "/run" || !offered.includes(RUN_SUBPROTOCOL)) {
      const status = path !== "/run" ? "404 Not Found" : "400 Bad Request";
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => new RunSocketSession(ws, deps));
  });

  return {
    http,
    listen: () =>
      new Promise((resolve, reject) => {
        http.once("error", reject);
        http.listen(options.config.port, options.config.host, () =>
          resolve((http.address() as AddressInfo).port),
        );
      }),
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
