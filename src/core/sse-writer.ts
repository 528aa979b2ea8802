import { SSEStreamingApi } from "hono/streaming";
import { TheoryError } from "./errors.ts";

/** One server-sent event to send: `id` only on events a client may resume after (Last-Event-ID). */
export interface OutgoingSseEvent {
  id?: string | number;
  event: string;
  data: string;
}

export const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-store" } as const;

const LINE_BREAKS = /\r\n|\r|\n/g;
const LINE_BREAK = /[\r\n]/;
const encoder = new TextEncoder();

/**
 * One event's text: `id:` (when given), `event:`, one `data:` line per line of data, a blank line.
 * `idAfterEvent` is the order the processor's legacy /run-stream has always written. Hono's own
 * writeSSE is not used: it writes `id:` last, and it formats and encodes per stream where a fan-out
 * to many subscribers should do both once.
 */
export function formatSseEvent(event: OutgoingSseEvent, options: { idAfterEvent?: boolean } = {}): string {
  if (LINE_BREAK.test(event.event) || (typeof event.id === "string" && LINE_BREAK.test(event.id)))
    throw new TheoryError("ERR_INTERNAL", "an SSE event name or id must not contain a line break");
  const id = event.id === undefined ? "" : `id: ${event.id}\n`;
  const data = `data: ${event.data.replace(LINE_BREAKS, "\ndata: ")}\n\n`;
  return options.idAfterEvent ? `event: ${event.event}\n${id}${data}` : `${id}event: ${event.event}\n${data}`;
}

/** Events as one chunk of bytes, formatted and encoded once however many streams it is written to. */
export function encodeSseEvents(
  events: Iterable<OutgoingSseEvent>,
  options: { idAfterEvent?: boolean } = {},
): Uint8Array {
  let text = "";
  for (const event of events) text += formatSseEvent(event, options);
  return encoder.encode(text);
}

/**
 * One subscriber's stream (Hono's SSEStreamingApi): `write` the encoded events, `close` after the
 * last; `responseReadable` is the response body, and `onAbort` fires when the reader cancels it
 * (the client went away). Writes never reject: after an abort they are dropped.
 */
export function openSseStream(): SSEStreamingApi {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  return new SSEStreamingApi(writable, readable);
}
