import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { CliContext } from "../../agent/cli/context.ts";
import { controlPlaneClientFor } from "../../agent/control-plane/client.ts";
import { ControlPlaneClient } from "../../src/client/control-plane.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { createLogger } from "../../src/core/log.ts";
import { readSse } from "../../src/core/sse-reader.ts";
import { collect } from "../support/sse.ts";
import { TEST_PROCESSOR_TOKEN } from "../support/tokens.ts";

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
  const listening = server;
  server = undefined;
  if (!listening) return;
  listening.closeAllConnections();
  await new Promise((resolve) => listening.close(resolve));
});

const logs: string[] = [];
const client = (baseUrl: string, requestTimeoutMs?: number) =>
  new ControlPlaneClient({
    baseUrl,
    token: TOKEN,
    log: createLogger({ sink: (line) => logs.push(line) }),
    reconnect: FAST,
    ...(requestTimeoutMs ? { requestTimeoutMs } : {}),
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

describe("endpoint registrations (modalctl)", () => {
  const REF = "llm/litellm@1";
  const REGISTRATION = { url: "https://sandbox.example", image_digest: `sha256:${"a".repeat(64)}` };
  /** Write-only: sent with the registration, never in an answer. */
  const WITH_TOKEN = { ...REGISTRATION, processor_token: TEST_PROCESSOR_TOKEN };

  it("PUT sends the registration with the token; GET answers it; both parse the answer", async () => {
    const requests: { method?: string; url?: string; body: string }[] = [];
    const url = await serve((req, res) => {
      let body = "";
      req.on("data", (chunk) => (body += chunk));
      req.on("end", () => {
        requests.push({ method: req.method, url: req.url, body });
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ ref: REF, ...REGISTRATION }));
      });
    });
    expect(await client(url).putEndpoint(REF, WITH_TOKEN)).toEqual({ ref: REF, ...REGISTRATION });
    expect(await client(url).getEndpoint(REF)).toEqual({ ref: REF, ...REGISTRATION });
    expect(requests).toEqual([
      { method: "PUT", url: `/v1/endpoints/${REF}`, body: JSON.stringify(WITH_TOKEN) },
      { method: "GET", url: `/v1/endpoints/${REF}`, body: "" },
    ]);
    expect(seen.map((s) => s.authorization)).toEqual([`Bearer ${TOKEN}`, `Bearer ${TOKEN}`]);
  });

  it("GET /v1/endpoints lists the registrations; GET /v1/whoami the token's grant", async () => {
    const paths: (string | undefined)[] = [];
    const url = await serve((req, res) => {
      paths.push(req.url);
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        req.url === "/v1/whoami"
          ? JSON.stringify({ name: "ops", scopes: ["runs:read", "endpoints:write"] })
          : JSON.stringify({ endpoints: [{ ref: REF, ...REGISTRATION }] }),
      );
    });
    expect(await client(url).listEndpoints()).toEqual([{ ref: REF, ...REGISTRATION }]);
    expect(await client(url).whoami()).toEqual({ name: "ops", scopes: ["runs:read", "endpoints:write"] });
    expect(paths).toEqual(["/v1/endpoints", "/v1/whoami"]);
  });

  it("none registered: GET is null, DELETE false; a removed one: DELETE true", async () => {
    // GET, then DELETE twice: the first two find nothing, the third removes one.
    const url = await serve((_req, res, connection) => {
      if (connection < 3) {
        res.writeHead(404, { "content-type": "application/json" });
        res.end('{"status":"error","error":{"code":"ERR_NOT_FOUND","message":"no endpoint"}}');
      } else res.writeHead(204).end();
    });
    expect(await client(url).getEndpoint(REF)).toBeNull();
    expect(await client(url).deleteEndpoint(REF)).toBe(false);
    expect(await client(url).deleteEndpoint(REF)).toBe(true);
  });

  it("an error envelope is its code (not null), an answer that is no registration ERR_INTERNAL", async () => {
    const url = await serve((req, res) => {
      if (req.method === "PUT") {
        res.writeHead(403, { "content-type": "application/json" });
        res.end('{"status":"error","error":{"code":"ERR_AUTH","message":"needs endpoints:write"}}');
      } else {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"ref":"llm/litellm@1"}');
      }
    });
    const refused = (await client(url)
      .putEndpoint(REF, WITH_TOKEN)
      .catch((e: unknown) => e)) as TheoryError;
    expect([refused.code, refused.message, refused.status]).toEqual([
      "ERR_AUTH",
      "needs endpoints:write",
      403,
    ]);
    const invalid = (await client(url)
      .getEndpoint(REF)
      .catch((e: unknown) => e)) as TheoryError;
    expect(invalid.code).toBe("ERR_INTERNAL");
  });
});

describe("one failure mapping for every call", () => {
  it("nobody listening -> ERR_ENDPOINT_MISSING naming the control plane, for runs and endpoints alike", async () => {
    const url = await serve(() => {});
    server?.close();
    const cp = client(url);
    const calls = [
      () => cp.getRun("r1"),
      () => cp.getEnvelope("r1"),
      () =>
        cp.putEndpoint("llm/litellm@1", {
          url: "https://x.example",
          image_digest: `sha256:${"a".repeat(64)}`,
          processor_token: TEST_PROCESSOR_TOKEN,
        }),
      () => cp.getEndpoint("llm/litellm@1"),
      () => cp.deleteEndpoint("llm/litellm@1"),
    ];
    for (const call of calls) {
      const error = (await call().catch((e: unknown) => e)) as TheoryError;
      expect(error).toBeInstanceOf(TheoryError);
      expect([error.code, error.message]).toEqual([
        "ERR_ENDPOINT_MISSING",
        `the control plane at ${url} is unreachable`,
      ]);
    }
  });

  it("a call that gets no answer in time is ERR_ENDPOINT_MISSING too", async () => {
    const url = await serve(() => {});
    const started = Date.now();
    const error = (await client(url, 200)
      .getEndpoint("llm/litellm@1")
      .catch((e: unknown) => e)) as TheoryError;
    expect([error.code, error.message]).toEqual([
      "ERR_ENDPOINT_MISSING",
      `the control plane at ${url} is unreachable (no answer in time)`,
    ]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("an answer within the timeout is taken; a held POST (Prefer: wait) gets the wait on top", async () => {
    const RESOURCE = {
      run_id: "r1",
      ref: "llm/litellm@1",
      target: "modal",
      state: "succeeded",
      envelope: null,
    };
    const url = await serve((_req, res) =>
      setTimeout(() => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(RESOURCE));
      }, 300),
    );
    expect(await client(url, 1000).getRun("r1")).toEqual(RESOURCE);
    const request = {
      ref: "llm/litellm@1",
      mode: "mock",
      inputs: {},
      target: "modal",
      artifact_scope: "local",
    };
    expect(await client(url, 100).createRun(request as never, 1)).toEqual(RESOURCE);
    const late = (await client(url, 100)
      .createRun(request as never)
      .catch((e: unknown) => e)) as TheoryError;
    expect(late.code).toBe("ERR_ENDPOINT_MISSING");
  });

  it("the event stream has no timeout: a stream slower than it is followed to done", async () => {
    const url = await serve((_req, res) => {
      sse(res);
      res.write(token(1));
      setTimeout(() => res.end(`event: done\ndata: ${ENVELOPE}\n\n`), 300);
    });
    const events = await collect(client(url, 100).events("r1"));
    expect(events.map((e) => e.id ?? e.event)).toEqual(["1", "done"]);
    expect(seen).toHaveLength(1);
  });

  it("the configured client: no URL -> ERR_INPUTS, no token -> ERR_AUTH, both -> a client", () => {
    const context = (config: object) =>
      ({ config, log: createLogger({ sink: () => {} }), signal: new AbortController().signal }) as CliContext;
    expect(() => controlPlaneClientFor(context({ token: TOKEN }))).toThrow(
      expect.objectContaining({ code: "ERR_INPUTS" }),
    );
    expect(() => controlPlaneClientFor(context({ controlPlane: "http://127.0.0.1:1" }))).toThrow(
      expect.objectContaining({ code: "ERR_AUTH" }),
    );
    expect(
      controlPlaneClientFor(context({ controlPlane: "http://127.0.0.1:1", token: TOKEN })),
    ).toBeInstanceOf(ControlPlaneClient);
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
