import { Webhook } from "standardwebhooks";
import type { Receipt } from "../src/contract/api.ts";
import { type BackoffPolicy, backoffDelay } from "../src/core/backoff.ts";

/** Bounded retries of one outbound webhook (docs/api.md#webhooks), by DO alarm; the run never waits for them. */
export const WEBHOOK_RETRY: BackoffPolicy & { attempts: number; attemptTimeoutMs: number } = {
  attempts: 5,
  initialMs: 1000,
  maxMs: 60_000,
  factor: 2,
  jitter: 0.2,
  totalMs: Number.POSITIVE_INFINITY,
  attemptTimeoutMs: 10_000,
};

type Delivery = NonNullable<Receipt["webhooks"]>[number];
type Event = Delivery["event"];

type DeliveryRow = {
  event: Event;
  webhook_id: string;
  payload: string;
  attempts: string;
  delivered: number;
  next_at: number | null;
};

/** One run's outbound webhook: where it goes, which events, and every delivery attempt (SQLite). */
export class WebhookDeliveries {
  private readonly sql: SqlStorage;

  /** Whether this run asked for a webhook (its tables exist only then); undefined until looked up. */
  private configured: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  configure(url: string, events: readonly Event[]): void {
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS webhook (id INTEGER PRIMARY KEY CHECK (id = 1), url TEXT NOT NULL, events TEXT NOT NULL)",
    );
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS deliveries (event TEXT PRIMARY KEY, webhook_id TEXT NOT NULL, payload TEXT NOT NULL, attempts TEXT NOT NULL, delivered INTEGER NOT NULL, next_at INTEGER)",
    );
    this.sql.exec("INSERT INTO webhook (id, url, events) VALUES (1, ?, ?)", url, JSON.stringify(events));
    this.configured = true;
  }

  /** After the object's storage was deleted. */
  forget(): void {
    this.configured = false;
  }

  private isConfigured(): boolean {
    this.configured ??=
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'webhook'").toArray()
        .length > 0;
    return this.configured;
  }

  private target(): { url: string; events: Event[] } | undefined {
    if (!this.isConfigured()) return undefined;
    const row = this.sql
      .exec<{ url: string; events: string }>("SELECT url, events FROM webhook WHERE id = 1")
      .toArray()[0];
    return row ? { url: row.url, events: JSON.parse(row.events) as Event[] } : undefined;
  }

  /**
   * Queues `event` when the run asked for it, with the payload made then (most runs ask for no
   * webhook and never build one); the id stays the same across retries.
   */
  enqueue(runId: string, event: Event, payload: () => string): boolean {
    if (!this.target()?.events.includes(event)) return false;
    this.sql.exec(
      "INSERT OR IGNORE INTO deliveries (event, webhook_id, payload, attempts, delivered, next_at) VALUES (?, ?, ?, '[]', 0, ?)",
      event,
      `msg_${runId}_${event}`,
      payload(),
      Date.now(),
    );
    return true;
  }

  /** Events whose next attempt is due. */
  due(now: number): Event[] {
    if (!this.isConfigured()) return [];
    return this.sql
      .exec<{ event: Event }>(
        "SELECT event FROM deliveries WHERE delivered = 0 AND next_at IS NOT NULL AND next_at <= ?",
        now,
      )
      .toArray()
      .map((row) => row.event);
  }

  nextDue(): number | undefined {
    if (!this.isConfigured()) return undefined;
    return (
      this.sql
        .exec<{ next: number | null }>("SELECT MIN(next_at) AS next FROM deliveries WHERE delivered = 0")
        .one().next ?? undefined
    );
  }

  /** One signed POST; records the attempt and when (if ever) to try again. */
  async attempt(event: Event, secret: string, random: () => number = Math.random): Promise<void> {
    const target = this.target();
    const row = this.sql.exec<DeliveryRow>("SELECT * FROM deliveries WHERE event = ?", event).toArray()[0];
    if (!target || !row || row.delivered) return;
    const attempts = JSON.parse(row.attempts) as Delivery["attempts"];
    // Claim the slot first, so an alarm firing meanwhile does not send it twice.
    this.sql.exec("UPDATE deliveries SET next_at = NULL WHERE event = ?", event);
    const at = new Date();
    let outcome: Delivery["attempts"][number];
    try {
      const response = await fetch(target.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": row.webhook_id,
          "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
          "webhook-signature": new Webhook(secret).sign(row.webhook_id, at, row.payload),
        },
        body: row.payload,
        signal: AbortSignal.timeout(WEBHOOK_RETRY.attemptTimeoutMs),
      });
      await response.body?.cancel();
      outcome = { at: at.toISOString(), status: response.status };
    } catch (error) {
      outcome = {
        at: at.toISOString(),
        error: (error as Error).name === "TimeoutError" ? "timeout" : "unreachable",
      };
    }
    attempts.push(outcome);
    const delivered = outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;
    const next =
      delivered || attempts.length >= WEBHOOK_RETRY.attempts
        ? null
        : Date.now() + backoffDelay(WEBHOOK_RETRY, attempts.length - 1, random);
    this.sql.exec(
      "UPDATE deliveries SET attempts = ?, delivered = ?, next_at = ? WHERE event = ?",
      JSON.stringify(attempts),
      delivered ? 1 : 0,
      next,
      event,
    );
  }

  /** For the receipt: every delivery with its attempts; undefined when the run asked for none. */
  summary(): Delivery[] | undefined {
    if (!this.target()) return undefined;
    return this.sql
      .exec<DeliveryRow>("SELECT * FROM deliveries ORDER BY event")
      .toArray()
      .map((row) => ({
        event: row.event,
        webhook_id: row.webhook_id,
        delivered: row.delivered === 1,
        attempts: JSON.parse(row.attempts),
      }));
  }
}
