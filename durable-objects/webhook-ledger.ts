import { DurableObject } from "cloudflare:workers";

/**
 * Inbound webhook ids already accepted, kept at least as long as a replay could still pass the
 * timestamp window.
 */
export class WebhookLedger extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY, expires_ms INTEGER NOT NULL)",
    );
  }

  /** True the first time `key` is claimed within `ttlMs`; false for a replay. */
  async claim(key: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    this.ctx.storage.sql.exec("DELETE FROM seen WHERE expires_ms <= ?", now);
    return (
      this.ctx.storage.sql.exec(
        "INSERT OR IGNORE INTO seen (key, expires_ms) VALUES (?, ?)",
        key,
        now + ttlMs,
      ).rowsWritten > 0
    );
  }
}
