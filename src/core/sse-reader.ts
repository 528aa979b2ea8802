import { createParser } from "eventsource-parser";

/** One server-sent event: `id` (absent when the server sent none), `event` (default "message"), `data`. */
export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * The events of a `text/event-stream` body, parsed by eventsource-parser (CRLF, CR or LF, comments,
 * multi-line data joined with "\n", lines split anywhere across chunks). An event the stream cut off
 * before its blank line is dropped, as a browser would. Stopping early cancels the body.
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  const parsed: SseEvent[] = [];
  const parser = createParser({
    onEvent: ({ id, event = "message", data }) =>
      void parsed.push(id === undefined ? { event, data } : { id, event, data }),
  });
  for await (const chunk of body) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    for (const event of parsed) yield event;
    parsed.length = 0;
  }
}
