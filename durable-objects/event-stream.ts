/**
 * How run events look to subscribers. SSE: `id` is the event's seq (for Last-Event-ID), `event` the
 * frame kind, `data` the processor's frame text unchanged; the terminal `done` carries the envelope.
 * WebSocket: one JSON text per event with the same three fields.
 */
export function sseEvent(event: { seq?: number; kind: string; data: string }): string {
  const id = event.seq === undefined ? "" : `id: ${event.seq}\n`;
  return `${id}event: ${event.kind}\ndata: ${event.data}\n\n`;
}

export function wsEvent(event: { seq?: number; kind: string; data: string }): string {
  const id = event.seq === undefined ? "" : `"id":${event.seq},`;
  return `{${id}"event":${JSON.stringify(event.kind)},"data":${event.data}}`;
}

export const DONE = "done";

/** Where a subscriber resumes: after Last-Event-ID (SSE reconnect) or `?after=` (WebSocket). */
export function resumeAfter(request: Request): number {
  const raw = request.headers.get("Last-Event-ID") ?? new URL(request.url).searchParams.get("after") ?? "0";
  const seq = Number.parseInt(raw, 10);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : 0;
}
