import { DurableObject } from "cloudflare:workers";

/**
 * One shard of the inbound webhook deliveries already accepted (src/worker/objects.ts picks it by
 * key): each delivery's run, kept at least as long as a replay could still pass the timestamp
 * window, so a retried delivery is answered with the run it started, never a second one.
 */
export class WebhookLedger extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS accepted (key TEXT PRIMARY KEY, run_id TEXT NOT NULL, expires_ms INTEGER NOT NULL)",
    );
    // The purge reads expired rows through this index, never the whole table.
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS accepted_by_expiry ON accepted (expires_ms)");
  }

  /** The run an unexpired delivery `key` started, or null when it was never accepted. */
  async runOf(key: string): Promise<string | null> {
    const row = this.ctx.storage.sql
      .exec<{ run_id: string }>(
        "SELECT run_id FROM accepted WHERE key = ? AND expires_ms > ?",
        key,
        Date.now(),
      )
      .toArray()[0];
    return row?.run_id ?? null;
  }

  /** Remembers that delivery `key` started `runId`, for `ttlMs`; a first acceptance is never replaced. */
  async accept(key: string, runId: string, ttlMs: number): Promise<void> {
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM accepted WHERE expires_ms <= ?", now);
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO accepted (key, run_id, expires_ms) VALUES (?, ?, ?)",
      key,
      runId,
      now + ttlMs,
    );
  }
}
