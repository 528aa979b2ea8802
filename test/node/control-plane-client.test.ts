import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ControlPlaneClient } from "../../agent/control-plane/client.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { createLogger } from "../../src/core/log.ts";
import { readSse } from "../../src/core/sse-reader.ts";
import { collect } from "../support/sse.ts";

const TOKEN = "test-token-value";
const FAST = { initialMs: 10, maxMs: 40, factor: 2, jitter: 0, totalMs: 100 };
const ENVELOPE =
  '{"error":{"code":"ERR_CANCELED","message":"x"},"meta":{"env_fingerprint":"cpu:1"},"run_id":"r1","status":"error"}';
const token = (seq: number) =>
  `id: ${seq}\nevent: Token\ndata: {"kind":"Token","content":{"text":"t${seq} "}}\n\n`;

type Handler = (req: IncomingMessage, res: ServerResponse, connection: number) => void;
let server: Server | undefined;
const seen: { lastEventId?: string; authorization?: string }[] = [];

async function serve(handler: Handler): Promise<string> {
  seen.length = 0;
  const listening = createServer((req, res) => {
    seen.push({
      lastEventId: req.headers["last-event-id"] as string | undefined,
      authorization: req.headers.authorization,
    });
    handler(req, res, seen.length);
  });
  server = listening;
  await new Promise<void>((resolve) => listening.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

const logs: string[] = [];
const client = (baseUrl: string) =>
  new ControlPlaneClient({
    baseUrl,
    token: TOKEN,
    log: createLogger({ sink: (line) => logs.push(line) }),
    reconnect: FAST,
  });

const sse = (res: ServerResponse) => res.writeHead(200, { "content-type": "text/event-stream" });

describe("the event stream, resumed with Last-Event-ID", () => {
  it("a stream dropped midway is reopened after the last id; nothing is lost or repeated", async () => {
    const url = await serve((_req, res, connection) => {
      sse(res);
      if (connection === 1) {
        // Three whole events, half of a fourth, then the connection dies.
        res.write(token(1) + token(2) + token(3));
        res.write('id: 4\nevent: Token\ndata: {"kind":"To');
        setTimeout(() => res.socket?.destroy(), 20);
      } else {
        res.end(`${token(4)}${token(5)}event: done\ndata: ${ENVELOPE}\n\n`);
      }
    });
    const events = await collect(client(url).events("r1"));
    expect(events.map((e) => e.id ?? e.event)).toEqual(["1", "2", "3", "4", "5", "done"]);
    expect(events.at(-1)).toEqual({ event: "done", data: ENVELOPE });
    expect(seen).toEqual([
      { lastEventId: undefined, authorization: `Bearer ${TOKEN}` },
      { lastEventId: "3", authorization: `Bearer ${TOKEN}` },
    ]);
    expect(logs.some((line) => line.includes('"events.reconnect"'))).toBe(true);
    expect(logs.join("\n")).not.toContain(TOKEN);
  });

  it("a stream that ends cleanly before done is resumed too; --after is the first Last-Event-ID", async () => {
    const url = await serve((_req, res, connection) => {
      sse(res);
      if (connection === 1) res.end(token(8));
      else res.end(`event: done\ndata: ${ENVELOPE}\n\n`);
    });
    const events = await collect(client(url).events("r1", { after: 7 }));
    expect(events.map((e) => e.id ?? e.event)).toEqual(["8", "done"]);
    expect(seen.map((s) => s.lastEventId)).toEqual(["7", "8"]);
  });

  it("gives up after the bounded schedule: ERR_ENDPOINT_MISSING, never an endless loop", async () => {
    const url = await serve((_req, res) => {
      sse(res);
      res.end(": nothing but a comment\n\n");
    });
    const error = await collect(client(url).events("r1")).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TheoryError);
    expect((error as TheoryError).code).toBe("ERR_ENDPOINT_MISSING");
    // 10 + 20 + 40 + 30 (cut to the 100 ms total): four reconnects after the first try.
    expect(seen).toHaveLength(5);
  });

  it("an error envelope is its code at once (no reconnect): 404 -> ERR_NOT_FOUND", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(404, { "content-type": "application/json" });
      res.end('{"status":"error","run_id":"r1","error":{"code":"ERR_NOT_FOUND","message":"no such run"}}');
    });
    const error = (await collect(client(url).events("r1")).catch((e: unknown) => e)) as TheoryError;
    expect([error.code, error.message, error.status]).toEqual(["ERR_NOT_FOUND", "no such run", 404]);
    expect(seen).toHaveLength(1);
  });

  it("a 5xx is retried like a drop", async () => {
    const url = await serve((_req, res, connection) => {
      if (connection === 1) {
        res.writeHead(503, { "content-type": "application/json" });
        res.end('{"status":"error","error":{"code":"ERR_ENDPOINT_MISSING","message":"busy"}}');
      } else {
        sse(res);
        res.end(`${token(1)}event: done\ndata: ${ENVELOPE}\n\n`);
      }
    });
    const events = await collect(client(url).events("r1"));
    expect(events.map((e) => e.id ?? e.event)).toEqual(["1", "done"]);
    expect(seen).toHaveLength(2);
  });
});

describe("the API client", () => {
  it("maps an error body to its code and status: 401 -> ERR_AUTH", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(401, { "content-type": "application/json" });
      res.end('{"status":"error","error":{"code":"ERR_AUTH","message":"bad token"}}');
    });
    const error = (await client(url)
      .getRun("r1")
      .catch((e: unknown) => e)) as TheoryError;
    expect([error.code, error.status]).toEqual(["ERR_AUTH", 401]);
  });

  it("an answer that is not an error envelope is still an error, by status class", async () => {
    const url = await serve((_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html>bad gateway</html>");
    });
    const error = (await client(url)
      .getRun("r1")
      .catch((e: unknown) => e)) as TheoryError;
    expect(error.code).toBe("ERR_INTERNAL");
    expect(error.message).toContain("HTTP 502");
  });

  it("nobody listening -> ERR_ENDPOINT_MISSING", async () => {
    const url = await serve(() => {});
    server?.close();
    const error = (await client(url)
      .cancelRun("r1")
      .catch((e: unknown) => e)) as TheoryError;
    expect(error.code).toBe("ERR_ENDPOINT_MISSING");
  });
});

describe("readSse", () => {
  it("parses CRLF, lines split across chunks, multi-line data, comments and bare fields", async () => {
    const chunks = [
      ": hello\r\n\r\nid: 1\r",
      "\nevent: Tok",
      "en\r\ndata: a\r\ndata:b\r\n\r\n",
      "data\n\nid: 2\nevent: done\ndata: {}\n\n",
    ];
    const url = await serve((_req, res) => {
      sse(res);
      let i = 0;
      const next = () => (i < chunks.length ? res.write(chunks[i++], () => setTimeout(next, 5)) : res.end());
      next();
    });
    const response = await fetch(url);
    const events = await collect(readSse(response.body as ReadableStream<Uint8Array>));
    expect(events).toEqual([
      { id: "1", event: "Token", data: "a\nb" },
      { event: "message", data: "" },
      { id: "2", event: "done", data: "{}" },
    ]);
  });

  it("drops an event the stream cut off (no blank line after it)", async () => {
    const url = await serve((_req, res) => {
      sse(res);
      res.end("id: 1\ndata: whole\n\nid: 2\ndata: cut");
    });
    const events = await collect(readSse((await fetch(url)).body as ReadableStream<Uint8Array>));
    expect(events).toEqual([{ id: "1", event: "message", data: "whole" }]);
  });
});
