import { encodeSseEvents } from "../src/core/sse-writer.ts";

/** One run event: `seq` on stored events (absent on the terminal `done`), the frame kind, its text. */
export interface RunEvent {
  seq?: number;
  kind: string;
  data: string;
}

/**
 * How run events look to subscribers. SSE: `id` is the event's seq (for Last-Event-ID), `event` the
 * frame kind, `data` the processor's frame text unchanged; the terminal `done` carries the envelope.
 * The bytes are made once per batch of events, whichever number of subscribers they go to.
 */
export function sseEvents(events: readonly RunEvent[]): Uint8Array {
  return encodeSseEvents(events.map(({ seq, kind, data }) => ({ id: seq, event: kind, data })));
}

/** WebSocket: one JSON text per event with the same three fields. */
export function wsEvent(event: RunEvent): string {
  const id = event.seq === undefined ? "" : `"id":${event.seq},`;
  return `{${id}"event":${JSON.stringify(event.kind)},"data":${event.data}}`;
}

/** Where a subscriber resumes: after Last-Event-ID (SSE reconnect) or `?after=` (WebSocket). */
export function resumeAfter(request: Request): number {
  const raw = request.headers.get("Last-Event-ID") ?? new URL(request.url).searchParams.get("after") ?? "0";
  const seq = Number.parseInt(raw, 10);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
}
