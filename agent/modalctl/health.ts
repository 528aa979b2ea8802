import { type BackoffPolicy, backoffSchedule } from "../../src/core/backoff.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { pause } from "../localctl/health.ts";

/** A new sandbox's cold start (image pull, boot) can take far longer than a local container's. */
export const SANDBOX_HEALTH: BackoffPolicy = {
  initialMs: 100,
  maxMs: 2000,
  factor: 2,
  jitter: 0.2,
  totalMs: 120_000,
};

/** Polls `{url}/healthz` on a bounded backoff; ERR_HEALTH when it never answers 2xx. */
export async function waitUrlHealthy(url: string, policy: BackoffPolicy, signal: AbortSignal): Promise<void> {
  let answered: number | undefined;
  for (const delay of [0, ...backoffSchedule(policy, Math.random)]) {
    if (delay > 0) await pause(delay, signal);
    try {
      const response = await fetch(`${url.replace(/\/+$/, "")}/healthz`, {
        signal: AbortSignal.timeout(5000),
      });
      await response.body?.cancel();
      if (response.ok) return;
      answered = response.status;
    } catch {
      // Not reachable yet.
    }
  }
  throw new TheoryError(
    "ERR_HEALTH",
    `the sandbox was not healthy within ${Math.round(policy.totalMs / 1000)} s${answered ? ` (last HTTP ${answered})` : ""}`,
  );
}
