import type { SSEStreamingApi } from "hono/streaming";
import { openSseStream, SSE_HEADERS } from "../src/core/sse-writer.ts";
import { type RunEvent, sseEvents, wsEvent } from "./event-stream.ts";

/**
 * How far one SSE subscriber may fall behind (bytes written but not yet read) before it is
 * dropped: it then reconnects with Last-Event-ID and catches up from storage, and a slow reader
 * never makes the run hold an unbounded buffer.
 */
export const MAX_SUBSCRIBER_LAG_BYTES = 16 * 1024 * 1024;

/** One SSE reader: at most one write in flight, later events queued as bytes and written as one. */
class SseSubscriber {
  readonly stream: SSEStreamingApi;
  #writing = false;
  #queued: Uint8Array[] = [];
  #queuedBytes = 0;
  #closing = false;
  readonly #onGone: () => void;

  constructor(stream: SSEStreamingApi, onGone: () => void) {
    this.stream = stream;
    this.#onGone = onGone;
    stream.onAbort(() => this.#gone());
  }

  send(bytes: Uint8Array): void {
    this.#queued.push(bytes);
    this.#queuedBytes += bytes.byteLength;
    if (this.#queuedBytes > MAX_SUBSCRIBER_LAG_BYTES) this.#gone();
    else this.#pump();
  }

  /** Sends what is queued, then closes. */
  end(): void {
    this.#closing = true;
    this.#pump();
  }

  #pump(): void {
    if (this.#writing) return;
    if (this.#queued.length === 0) {
      if (this.#closing) void this.stream.close().catch(() => {});
      return;
    }
    const chunk = this.#queued.length === 1 ? (this.#queued[0] as Uint8Array) : concat(this.#queued);
    this.#queued = [];
    this.#queuedBytes = 0;
    this.#writing = true;
    void this.stream.write(chunk).then(() => {
      this.#writing = false;
      if (!this.stream.aborted && !this.stream.closed) this.#pump();
    });
  }

  #gone(): void {
    this.#queued = [];
    this.#queuedBytes = 0;
    this.#onGone();
    void this.stream.close().catch(() => {});
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * The run's live subscribers: SSE streams, and hibernatable WebSockets accepted on the Durable
 * Object. Every event is encoded once for all of them.
 */
export class Subscribers {
  readonly #ctx: DurableObjectState;
  readonly #sse = new Set<SseSubscriber>();

  constructor(ctx: DurableObjectState) {
    this.#ctx = ctx;
  }

  /** An SSE response: `replay` first, then live events, or `done` at once when the run settled. */
  sse(replay: readonly RunEvent[], done?: RunEvent): Response {
    const stream = openSseStream();
    const subscriber = new SseSubscriber(stream, () => this.#sse.delete(subscriber));
    if (replay.length > 0 || done) subscriber.send(sseEvents(done ? [...replay, done] : replay));
    if (done) subscriber.end();
    else this.#sse.add(subscriber);
    return new Response(stream.responseReadable, { headers: SSE_HEADERS });
  }

  /** A WebSocket subscriber, accepted so that the object may hibernate while it listens. */
  websocket(replay: readonly RunEvent[], done?: RunEvent): Response {
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.#ctx.acceptWebSocket(server);
    for (const event of replay) server.send(wsEvent(event));
    if (done) {
      server.send(wsEvent(done));
      server.close(1000, "done");
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  broadcast(event: RunEvent): void {
    if (this.#sse.size > 0) {
      const bytes = sseEvents([event]);
      for (const subscriber of this.#sse) subscriber.send(bytes);
    }
    const sockets = this.#ctx.getWebSockets();
    if (sockets.length === 0) return;
    const text = wsEvent(event);
    for (const ws of sockets) {
      try {
        ws.send(text);
      } catch {
        // A subscriber that went away.
      }
    }
  }

  /** The terminal event to everyone, then every subscriber is closed. */
  finish(done: RunEvent): void {
    const bytes = sseEvents([done]);
    for (const subscriber of this.#sse) {
      subscriber.send(bytes);
      subscriber.end();
    }
    this.#sse.clear();
    const text = wsEvent(done);
    for (const ws of this.#ctx.getWebSockets()) {
      try {
        ws.send(text);
        ws.close(1000, "done");
      } catch {
        // Already gone.
      }
    }
  }
}
