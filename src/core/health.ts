import { type BackoffPolicy, backoffSchedule } from "./backoff.ts";
import { TheoryError } from "./errors.ts";

/** What one `GET {url}/healthz` saw: a 2xx, another status, or no answer at all (refused, timed out). */
export type HealthProbe =
  | { state: "healthy" }
  | { state: "unhealthy"; status: number }
  | { state: "unreachable" };

/**
 * How a bounded poll ended. `unhealthy` carries the last non-2xx status seen (it answered at least
 * once), `unreachable` means it never answered, `died` that `alive()` said no before it was healthy.
 */
export type HealthPoll = HealthProbe | { state: "died"; status?: number };

export interface ProbeOptions {
  /** Sent with every probe (e.g. Modal proxy auth). */
  headers?: Record<string, string>;
  /** One probe's budget; a probe that takes longer is unreachable. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Aborts the probe in flight (it then reports unreachable; the poll rejects with the reason). */
  signal?: AbortSignal;
}

export interface PollOptions extends ProbeOptions {
  /** Probes once at once, then once after each delay of the policy's bounded schedule. */
  policy: BackoffPolicy;
  /**
   * A budget shared with other work (a run's pre-Ack phase): when it aborts, the poll ends where it
   * stands and resolves with what it saw, unlike `signal`, which makes it reject.
   */
  budget?: AbortSignal;
  /** Asked after each probe that was not healthy; false ends the poll as `died`. */
  alive?: () => boolean | Promise<boolean>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

/** One probe when nothing else is said: long enough for a cold Modal sandbox behind its tunnel. */
export const PROBE_TIMEOUT_MS = 5000;

const healthUrl = (base: string) => `${base.replace(/\/+$/, "")}/healthz`;

/** One `GET {url}/healthz` within its timeout. Never throws; the body is drained either way. */
export async function probeHealth(url: string, options: ProbeOptions = {}): Promise<HealthProbe> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? PROBE_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    const response = await (options.fetch ?? fetch)(healthUrl(url), {
      headers: options.headers ?? {},
      signal,
    });
    await response.body?.cancel().catch(() => undefined);
    return response.ok ? { state: "healthy" } : { state: "unhealthy", status: response.status };
  } catch {
    return { state: "unreachable" };
  }
}

/** Sleeps `ms`, or rejects with the signal's reason as soon as it aborts (no listener left behind). */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal?.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Polls `{url}/healthz` on the policy's bounded backoff with jitter (docs/operations.md#retries-health-and-budgets)
 * until it is healthy, `alive()` says it died, the schedule is spent or the budget ends; the sleeps
 * never add up to more than `policy.totalMs`. Resolves with how it ended; rejects only with the
 * signal's reason.
 */
export async function pollHealth(url: string, options: PollOptions): Promise<HealthPoll> {
  const sleep = options.sleep ?? pause;
  const { signal, budget } = options;
  const stop = signal && budget ? AbortSignal.any([signal, budget]) : (signal ?? budget);
  let status: number | undefined;
  const standing = (): HealthPoll =>
    status === undefined ? { state: "unreachable" } : { state: "unhealthy", status };
  for (const delay of [0, ...backoffSchedule(options.policy, options.random ?? Math.random)]) {
    signal?.throwIfAborted();
    if (budget?.aborted) return standing();
    if (delay > 0) await sleep(delay, stop).catch((error: unknown) => ignoreBudget(error, options));
    signal?.throwIfAborted();
    if (budget?.aborted) return standing();
    const probe = await probeHealth(url, { ...options, signal: stop });
    signal?.throwIfAborted();
    if (probe.state === "healthy") return probe;
    // A probe the budget cut short saw nothing.
    if (budget?.aborted) return standing();
    if (probe.state === "unhealthy") status = probe.status;
    if (options.alive && !(await options.alive())) return { state: "died", status };
  }
  return standing();
}

/** A sleep that ended because the budget did is no error; anything else is rethrown. */
function ignoreBudget(error: unknown, options: PollOptions): void {
  if (options.signal?.aborted || !options.budget?.aborted) throw error;
}

/**
 * Who was polled decides the code:
 * - `started`: something the caller started itself (localctl and modalctl start, the scripts' local
 *   processes). Not healthy in time, for whatever reason, is ERR_HEALTH.
 * - `registered`: an endpoint looked up before a run (the endpoint transport). Never answering is
 *   ERR_ENDPOINT_MISSING (nothing is there); answering non-2xx is ERR_HEALTH (it is there, unwell).
 */
export type HealthSubject =
  | { kind: "started"; name: string; budgetMs: number }
  | { kind: "registered"; name: string };

/** The one mapping from a poll that did not end healthy to its error (see HealthSubject). */
export function healthError(
  poll: Exclude<HealthPoll, { state: "healthy" }>,
  subject: HealthSubject,
): TheoryError {
  if (subject.kind === "registered") {
    return poll.state === "unhealthy"
      ? new TheoryError("ERR_HEALTH", `${subject.name} is unhealthy (HTTP ${poll.status})`)
      : new TheoryError("ERR_ENDPOINT_MISSING", `${subject.name} is not reachable`);
  }
  if (poll.state === "died")
    return new TheoryError("ERR_HEALTH", `${subject.name} exited before it was healthy`);
  const last = poll.state === "unhealthy" ? ` (last HTTP ${poll.status})` : "";
  return new TheoryError(
    "ERR_HEALTH",
    `${subject.name} was not healthy within ${Math.round(subject.budgetMs / 1000)} s${last}`,
  );
}

/** Polls something the caller started until it is healthy; ERR_HEALTH (see HealthSubject) otherwise. */
export async function waitStartedHealthy(url: string, name: string, options: PollOptions): Promise<void> {
  const poll = await pollHealth(url, options);
  if (poll.state !== "healthy")
    throw healthError(poll, { kind: "started", name, budgetMs: options.policy.totalMs });
}
