import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FlushWindow } from "../../src/core/flush-window.ts";

/** A buffer written out through a FlushWindow, recording when each write happened. */
function buffer(leading: "now" | "turn", windowMs = 100) {
  const writes: { at: number; items: number[] }[] = [];
  let items: number[] = [];
  const window = new FlushWindow({ windowMs, leading, flush: () => flush() });
  const flush = () => {
    if (items.length === 0) return window.cancel();
    window.flushed();
    writes.push({ at: Date.now(), items });
    items = [];
  };
  return {
    writes,
    add(item: number) {
      items.push(item);
      window.added();
    },
    flush,
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("FlushWindow", () => {
  it("writes the first item after a quiet window at once, later ones together one window after", () => {
    const b = buffer("now");
    b.add(1);
    expect(b.writes).toEqual([{ at: 0, items: [1] }]);
    vi.advanceTimersByTime(10);
    b.add(2);
    b.add(3);
    expect(b.writes).toHaveLength(1); // held: the last write was 10 ms ago
    vi.advanceTimersByTime(90);
    expect(b.writes).toEqual([
      { at: 0, items: [1] },
      { at: 100, items: [2, 3] },
    ]);
    vi.advanceTimersByTime(500);
    b.add(4); // quiet for longer than a window: at once again
    expect(b.writes.at(-1)).toEqual({ at: 600, items: [4] });
  });

  it('with leading "turn", items that arrive together go together, at the end of the turn', () => {
    const b = buffer("turn");
    b.add(1);
    b.add(2);
    expect(b.writes).toEqual([]);
    vi.advanceTimersByTime(0);
    expect(b.writes).toEqual([{ at: 0, items: [1, 2] }]);
  });

  it("a write the owner makes itself (a full buffer) restarts the window, and nothing is written twice", () => {
    const b = buffer("now");
    b.add(1);
    vi.advanceTimersByTime(20);
    b.add(2); // scheduled for 100
    vi.advanceTimersByTime(20);
    b.flush(); // the owner writes at 40
    vi.advanceTimersByTime(200);
    expect(b.writes).toEqual([
      { at: 0, items: [1] },
      { at: 40, items: [2] },
    ]);
    b.add(3);
    expect(b.writes.at(-1)).toEqual({ at: 240, items: [3] });
  });
});
