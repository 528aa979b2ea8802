import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay, backoffSchedule, HEALTH_BACKOFF } from "../../src/core/backoff.ts";

describe("backoff policy", () => {
  it("grows from about 100 ms to 1.6 s without jitter's help", () => {
    const noJitter = () => 0;
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => backoffDelay(HEALTH_BACKOFF, n, noJitter))).toEqual([
      100, 200, 400, 800, 1600, 1600, 1600,
    ]);
  });

  it("keeps every jittered delay within [base*(1-jitter), base] and the total within budget", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 1 }), (draws) => {
        let i = 0;
        const random = () => draws[i++ % draws.length] as number;
        const schedule = backoffSchedule(HEALTH_BACKOFF, random);
        const total = schedule.reduce((a, b) => a + b, 0);
        expect(total).toBeLessThanOrEqual(HEALTH_BACKOFF.totalMs);
        expect(total).toBeGreaterThanOrEqual(HEALTH_BACKOFF.totalMs - 1);
        schedule.slice(0, -1).forEach((delay, n) => {
          const base = Math.min(1600, 100 * 2 ** n);
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base * 0.8));
          expect(delay).toBeLessThanOrEqual(base);
        });
      }),
    );
  });

  it("is bounded: a zero budget gives no retries at all", () => {
    expect(backoffSchedule({ ...HEALTH_BACKOFF, totalMs: 0 }, Math.random)).toEqual([]);
  });
});
