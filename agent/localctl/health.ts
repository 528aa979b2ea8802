import { type BackoffPolicy, backoffSchedule } from "../../src/core/backoff.ts";
import { TheoryError } from "../../src/core/errors.ts";

/** A local processor's base URL: containers run on the host network, bound to loopback. */
export const localUrl = (port: number): string => `http://127.0.0.1:${port}`;

/** One `GET /healthz`: true on a 2xx within `timeoutMs`, false otherwise (never throws). */
export async function probeHealth(port: number, timeoutMs = 1000): Promise<boolean> {
  try {
    const response = await fetch(`${localUrl(port)}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts (no listener left behind). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Polls `/healthz` on a bounded exponential backoff with jitter (docs/operations.md#retries-health-and-budgets). Stops early when the
 * container is no longer alive; ERR_HEALTH when it never answers; rejects with the signal's reason
 * when aborted.
 */
export async function waitHealthy(options: {
  port: number;
  policy: BackoffPolicy;
  alive(): Promise<boolean>;
  signal: AbortSignal;
  random?: () => number;
}): Promise<void> {
  for (const delay of [0, ...backoffSchedule(options.policy, options.random ?? Math.random)]) {
    if (delay > 0) await pause(delay, options.signal);
    if (await probeHealth(options.port)) return;
    if (!(await options.alive()))
      throw new TheoryError("ERR_HEALTH", "the container exited before it was healthy");
  }
  throw new TheoryError(
    "ERR_HEALTH",
    `not healthy on port ${options.port} within ${Math.round(options.policy.totalMs / 1000)} s`,
  );
}
