import { readSse, type SseEvent } from "../../src/core/sse-reader.ts";

/** Everything an async iterable yields, in order. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

/** Every event of an SSE body (a response, or the text of one), read to its end by the one reader. */
export function sseEventsOf(body: Response | string): Promise<SseEvent[]> {
  const response = typeof body === "string" ? new Response(body) : body;
  return collect(readSse(response.body as ReadableStream<Uint8Array>));
}

/** Reads a run's event stream (`GET /v1/runs/{id}/events`) until the processor's Ack is in it. */
export async function ackIn(events: Response): Promise<void> {
  for await (const event of readSse(events.body as ReadableStream<Uint8Array>)) {
    if (event.event === "Ack") return;
    if (event.event === "done") throw new Error("the run settled before its Ack");
  }
  throw new Error("the event stream ended before the Ack");
}
