/**
 * When a buffer that fills item by item is written out: the first item after a quiet `windowMs`
 * goes at once, or at the end of the current turn with `leading: "turn"` (so the items that arrive
 * together still go together); later ones go together `windowMs` after the previous write. A buffer
 * that fills up is written out sooner by its owner, which then calls `flushed()` like `flush` does.
 * Under load this makes few large writes instead of many small ones; at rest it adds no delay.
 */
export class FlushWindow {
  readonly #windowMs: number;
  readonly #flush: () => void;
  readonly #leading: "now" | "turn";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastFlushAt = Number.NEGATIVE_INFINITY;

  constructor(options: { windowMs: number; flush: () => void; leading: "now" | "turn" }) {
    this.#windowMs = options.windowMs;
    this.#flush = options.flush;
    this.#leading = options.leading;
  }

  /** An item was buffered: schedules the write unless one is already due. */
  added(): void {
    if (this.#timer !== undefined) return;
    const wait = this.#lastFlushAt + this.#windowMs - Date.now();
    if (wait <= 0 && this.#leading === "now") {
      this.#flush();
      return;
    }
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#flush();
      },
      Math.max(0, wait),
    );
  }

  /** The buffer was written out (by the window or by its owner): the next window starts now. */
  flushed(): void {
    this.cancel();
    this.#lastFlushAt = Date.now();
  }

  /** Nothing more is due (the buffer was emptied or dropped without a write). */
  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
