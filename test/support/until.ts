/**
 * Polls `check` until it gives a value `done` accepts (by default, any truthy value) and returns
 * that value; past `timeoutMs` it throws naming `what`. The one poller the tests wait with.
 */
export async function until<T>(
  what: string,
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; done?: (value: T) => boolean } = {},
): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 50, done = Boolean } = options;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
