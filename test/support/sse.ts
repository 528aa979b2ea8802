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
