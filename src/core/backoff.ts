/** Exponential backoff with jitter, as pure arithmetic: the caller owns the clock and the sleeping. */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0..1: each delay is drawn from [base * (1 - jitter), base]. */
  jitter: number;
  /** Sum of all delays in a schedule never exceeds this. */
  totalMs: number;
}

/** docs/operations.md#retries-health-and-budgets: about 100 ms -> 1.6 s, 10–15 s in all. */
export const HEALTH_BACKOFF: BackoffPolicy = {
  initialMs: 100,
  maxMs: 1600,
  factor: 2,
  jitter: 0.2,
  totalMs: 12_000,
};

/** Delay before retry number `attempt` (0-based), `random` in [0, 1). */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number): number {
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** attempt);
  return Math.round(base * (1 - policy.jitter * random()));
}

/** Every delay of a bounded schedule; the last one is cut so the total stays within totalMs. */
export function backoffSchedule(policy: BackoffPolicy, random: () => number): number[] {
  const delays: number[] = [];
  let total = 0;
  for (let attempt = 0; total < policy.totalMs; attempt++) {
    const delay = Math.min(backoffDelay(policy, attempt, random), policy.totalMs - total);
    if (delay <= 0) break;
    delays.push(delay);
    total += delay;
  }
  return delays;
}
