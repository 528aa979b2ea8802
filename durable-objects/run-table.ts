import type { RunRequest, RunState } from "../src/contract/api.ts";
import type { Target } from "../src/contract/primitives.ts";

/** The run's one row. `envelope` is set when the result is known, `state` turns terminal only once it is persisted. */
export interface RunRow {
  run_id: string;
  request_sha256: string;
  ref: string;
  target: Target;
  agent: string | null;
  state: RunState;
  queued_at: string;
  deadline_ms: number;
  envelope: string | null;
  receipt: string | null;
}

/** Events kept per run; past it frames still reach live subscribers but are not stored. */
export const MAX_STORED_EVENTS = 100_000;

/** SQLite persistence of one RunSession: the run row and its numbered events. */
export class RunTable {
  private readonly sql: SqlStorage;
  private lastSeq: number;

  constructor(sql: SqlStorage) {
    this.sql = sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS run (
      id INTEGER PRIMARY KEY CHECK (id = 1), run_id TEXT NOT NULL, request_sha256 TEXT NOT NULL,
      ref TEXT NOT NULL, target TEXT NOT NULL, agent TEXT, state TEXT NOT NULL, queued_at TEXT NOT NULL,
      deadline_ms INTEGER NOT NULL, envelope TEXT, receipt TEXT)`);
    sql.exec(
      "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL)",
    );
    this.lastSeq = sql.exec<{ last: number | null }>("SELECT MAX(seq) AS last FROM events").one().last ?? 0;
  }

  get(): RunRow | null {
    return (
      (this.sql.exec("SELECT * FROM run WHERE id = 1").toArray()[0] as unknown as RunRow | undefined) ?? null
    );
  }

  create(
    request: RunRequest & { run_id: string },
    requestSha256: string,
    queuedAt: string,
    deadlineMs: number,
  ): void {
    this.sql.exec(
      "INSERT INTO run (id, run_id, request_sha256, ref, target, agent, state, queued_at, deadline_ms) VALUES (1, ?, ?, ?, ?, ?, 'queued', ?, ?)",
      request.run_id,
      requestSha256,
      request.ref,
      request.target,
      request.agent ?? null,
      queuedAt,
      deadlineMs,
    );
  }

  /** When the alarm next looks at this run: its budget, then a settle margin or a persist retry. */
  setDeadline(deadlineMs: number): void {
    this.sql.exec("UPDATE run SET deadline_ms = ? WHERE id = 1", deadlineMs);
  }

  setState(state: RunState): void {
    this.sql.exec("UPDATE run SET state = ? WHERE id = 1", state);
  }

  /** Records the result before it is persisted elsewhere, so a restart can finish the job. */
  setResult(envelope: string, receipt: string): void {
    this.sql.exec("UPDATE run SET envelope = ?, receipt = ? WHERE id = 1", envelope, receipt);
  }

  /** Appends an event; returns its seq, or undefined when the store is full. */
  appendEvent(kind: string, data: string): number | undefined {
    if (this.lastSeq >= MAX_STORED_EVENTS) return undefined;
    this.lastSeq++;
    this.sql.exec("INSERT INTO events (seq, kind, data) VALUES (?, ?, ?)", this.lastSeq, kind, data);
    return this.lastSeq;
  }

  eventsAfter(seq: number): { seq: number; kind: string; data: string }[] {
    return this.sql
      .exec<{ seq: number; kind: string; data: string }>(
        "SELECT seq, kind, data FROM events WHERE seq > ? ORDER BY seq",
        seq,
      )
      .toArray();
  }
}
