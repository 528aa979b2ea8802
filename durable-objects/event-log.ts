import { TRUNCATED_EVENT } from "../src/contract/run-events.ts";
import { FlushWindow } from "../src/core/flush-window.ts";
import type { RunEvent } from "./event-stream.ts";
import type { RunStore } from "./run-store.ts";

/**
 * What one run may keep for replay, and how frames are batched into rows (docs/protocols.md#the-run-events-stream).
 * Frames are numbered and handed to live subscribers at once; storage takes them in batches: a
 * frame arriving after a quiet `batchDelayMs` is written at once (so the Ack is durable as soon as
 * it arrives), later ones are written together `batchDelayMs` after the last write, or sooner when
 * `batchFrames` frames or `batchChars` characters wait, and everything when the run settles. Past `maxFrames` or `maxChars`
 * nothing more is stored: live subscribers still get every frame, a replay ends with `truncated`.
 */
export const EVENT_LIMITS = {
  maxFrames: 250_000,
  maxChars: 32 * 1024 * 1024,
  batchFrames: 1024,
  batchChars: 256 * 1024,
  batchDelayMs: 100,
};

export type EventLimits = typeof EVENT_LIMITS;

/**
 * A run's numbered events: in memory while a batch fills, then in SQLite one row per batch. A
 * replay after any seq yields exactly the frames (kind and text) that live subscribers were sent,
 * with the same ids.
 */
export class EventLog {
  readonly #store: RunStore;
  readonly #limits: EventLimits;
  #pending: [string, string][] = [];
  #pendingChars = 0;
  #lastSeq: number;
  #stored: { frames: number; chars: number; rows: number };
  #dropped = 0;
  /** The Ack, first after a quiet window, is written in its own turn: durable at once. */
  readonly #window: FlushWindow;

  constructor(store: RunStore, limits: EventLimits = EVENT_LIMITS) {
    this.#store = store;
    this.#limits = limits;
    const totals = store.storedTotals();
    this.#lastSeq = totals.lastSeq;
    this.#stored = { frames: totals.frames, chars: totals.bytes, rows: totals.rows };
    this.#window = new FlushWindow({
      windowMs: limits.batchDelayMs,
      flush: () => this.flush(),
      leading: "now",
    });
  }

  /** Numbers a frame and queues it for storage; undefined (no id) once the bound is reached. */
  append(kind: string, text: string): number | undefined {
    const frames = this.#stored.frames + this.#pending.length;
    const chars = this.#stored.chars + this.#pendingChars;
    if (
      this.#dropped > 0 ||
      frames >= this.#limits.maxFrames ||
      chars + text.length > this.#limits.maxChars
    ) {
      this.#dropped++;
      return undefined;
    }
    this.#pending.push([kind, text]);
    this.#pendingChars += text.length;
    this.#lastSeq++;
    if (this.#pending.length >= this.#limits.batchFrames || this.#pendingChars >= this.#limits.batchChars)
      this.flush();
    else this.#window.added();
    return this.#lastSeq;
  }

  /** Writes the pending batch as one row (one statement, in the caller's turn). */
  flush(): void {
    if (this.#pending.length === 0) {
      this.#window.cancel();
      return;
    }
    this.#window.flushed();
    const first = this.#lastSeq - this.#pending.length + 1;
    const frames = JSON.stringify(this.#pending);
    this.#store.appendBatch({ first_seq: first, last_seq: this.#lastSeq, frames });
    this.#stored = {
      frames: this.#stored.frames + this.#pending.length,
      chars: this.#stored.chars + this.#pendingChars,
      rows: this.#stored.rows + 1,
    };
    this.#pending = [];
    this.#pendingChars = 0;
  }

  /** Every kept event after `seq`, stored or pending, then `truncated` when frames were dropped. */
  after(seq: number): RunEvent[] {
    const events: RunEvent[] = [];
    for (const batch of this.#store.batchesAfter(seq)) {
      const frames = JSON.parse(batch.frames) as [string, string][];
      frames.forEach(([kind, data], i) => {
        if (batch.first_seq + i > seq) events.push({ seq: batch.first_seq + i, kind, data });
      });
    }
    const firstPending = this.#lastSeq - this.#pending.length + 1;
    this.#pending.forEach(([kind, data], i) => {
      if (firstPending + i > seq) events.push({ seq: firstPending + i, kind, data });
    });
    if (this.#dropped > 0)
      events.push({ kind: TRUNCATED_EVENT, data: JSON.stringify({ after: this.#lastSeq }) });
    return events;
  }

  /** Whether the processor acknowledged the run: its Ack is always the first frame, and written at once. */
  acknowledged(): boolean {
    return this.#stored.frames > 0 || this.#pending.length > 0;
  }

  stats(): { stored: number; rows: number; dropped: number } {
    return { stored: this.#stored.frames, rows: this.#stored.rows, dropped: this.#dropped };
  }

  /** Forgets the pending batch and the counts (the storage under it was deleted). */
  reset(): void {
    this.#window.cancel();
    this.#pending = [];
    this.#pendingChars = 0;
    this.#lastSeq = 0;
    this.#stored = { frames: 0, chars: 0, rows: 0 };
    this.#dropped = 0;
  }
}
