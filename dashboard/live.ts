import { pause } from "../src/core/health.ts";

/**
 * Calls `tick` now and then every `ms` until `signal` aborts: how lists stay current without a
 * reload. A failing tick goes to `failed` and the next one tries again; a hidden tab skips ticks.
 */
export async function every(
  ms: number,
  signal: AbortSignal,
  tick: () => Promise<void>,
  failed: (error: unknown) => void,
): Promise<void> {
  while (!signal.aborted) {
    if (!document.hidden) {
      try {
        await tick();
      } catch (error) {
        if (signal.aborted) return;
        failed(error);
      }
    }
    await pause(ms, signal).catch(() => undefined);
  }
}
