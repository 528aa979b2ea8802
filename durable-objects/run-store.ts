import type { RunState } from "../src/contract/api.ts";
import type { Target } from "../src/contract/primitives.ts";

/**
 * The run's one row. `state` is persisted as queued and then once more, terminal, together with
 * the envelope and receipt (a live execution is "running" in memory only). `persisted` holds bits
 * for the copies of the settled run made beyond this object: 1 the envelope and receipt in the
 * object store, 2 the run index's row; `expires_at_ms` is when retention deletes it all.
 */
export interface RunRow {
  run_id: string;
  /** The canonical request, as accepted (redispatch and replay start from it). */
  request: string;
  request_sha256: string;
  ref: string;
  target: Target;
  agent: string | null;
  state: RunState;
  queued_at: string;
  deadline_ms: number;
  envelope: string | null;
  receipt: string | null;
  persisted: number;
  expires_at_ms: number | null;
  /** A replay: the run it replayed (docs/api.md#replay). */
  replay_of: string | null;
  /** This run's replays, a JSON array of run ids, oldest first. */
  replays: string;
  /** How many times the run was dispatched: a second time only when its session was lost before Ack. */
  dispatches: number;
  /** The digest the run's processor was expected to run, stored with its Ack, for envelopes written after a restart. */
  image_digest: string | null;
}

/** Columns added after the first runs were stored, with the value an older row has for each. */
const ADDED_COLUMNS = {
  dispatches: { definition: "INTEGER NOT NULL DEFAULT 1", value: 1 },
  image_digest: { definition: "TEXT", value: null },
  replay_of: { definition: "TEXT", value: null },
  replays: { definition: "TEXT NOT NULL DEFAULT '[]'", value: "[]" },
} as const;

/** What an added column holds where a row does not say. */
const ADDED_DEFAULTS = Object.fromEntries(
  Object.entries(ADDED_COLUMNS).map(([column, { value }]) => [column, value]),
) as Pick<RunRow, keyof typeof ADDED_COLUMNS>;

/** A new run's row: the added columns take their defaults unless given. */
export type NewRunRow = Omit<RunRow, keyof typeof ADDED_COLUMNS> &
  Partial<Pick<RunRow, keyof typeof ADDED_COLUMNS>>;

/** Consecutive frames stored as one row: `frames` is the JSON of `[kind, text][]`. */
export type StoredBatch = {
  first_seq: number;
  last_seq: number;
  frames: string;
};

const TABLES = [
  `CREATE TABLE IF NOT EXISTS run_record (
    id INTEGER PRIMARY KEY CHECK (id = 1), run_id TEXT NOT NULL, request TEXT NOT NULL,
    request_sha256 TEXT NOT NULL, ref TEXT NOT NULL, target TEXT NOT NULL, agent TEXT,
    state TEXT NOT NULL, queued_at TEXT NOT NULL, deadline_ms INTEGER NOT NULL, envelope TEXT,
    receipt TEXT, persisted INTEGER NOT NULL DEFAULT 0, expires_at_ms INTEGER,
    dispatches INTEGER NOT NULL DEFAULT 1, image_digest TEXT, replay_of TEXT,
    replays TEXT NOT NULL DEFAULT '[]')`,
  "CREATE TABLE IF NOT EXISTS run_events (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, frames TEXT NOT NULL)",
];

/**
 * The SQLite side of one RunSession. Tables are created by the first write, so looking up a run
 * that does not exist leaves no storage behind. The row is read once and then kept in memory;
 * each change is one statement in the caller's turn, so changes made together commit together.
 */
export class RunStore {
  readonly #sql: SqlStorage;
  #row: RunRow | null | undefined;
  #created = false;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  get(): RunRow | null {
    if (this.#row !== undefined) return this.#row;
    if (!this.#exists()) {
      this.#row = null;
      return null;
    }
    const row =
      (this.#sql.exec("SELECT * FROM run_record WHERE id = 1").toArray()[0] as unknown as RunRow) ?? null;
    this.#row = row ? this.#migrated(row) : null;
    return this.#row;
  }

  create(row: NewRunRow): void {
    this.#ensureTables();
    const columns = Object.keys(row);
    this.#sql.exec(
      `INSERT INTO run_record (id, ${columns.join(", ")}) VALUES (1, ${columns.map(() => "?").join(", ")})`,
      ...Object.values(row),
    );
    this.#row = { ...ADDED_DEFAULTS, ...row };
  }

  update(fields: Partial<Omit<RunRow, "run_id">>): void {
    const row = this.get();
    if (!row) throw new Error("no run to update");
    const columns = Object.keys(fields);
    if (columns.length === 0) return;
    this.#sql.exec(
      `UPDATE run_record SET ${columns.map((column) => `${column} = ?`).join(", ")} WHERE id = 1`,
      ...Object.values(fields),
    );
    this.#row = { ...row, ...fields };
  }

  appendBatch(batch: StoredBatch): void {
    this.#ensureTables();
    this.#sql.exec(
      "INSERT INTO run_events (first_seq, last_seq, frames) VALUES (?, ?, ?)",
      batch.first_seq,
      batch.last_seq,
      batch.frames,
    );
  }

  /** Stored batches holding any frame after `seq`, in order. */
  batchesAfter(seq: number): StoredBatch[] {
    if (!this.#exists()) return [];
    return this.#sql
      .exec<StoredBatch>(
        "SELECT first_seq, last_seq, frames FROM run_events WHERE last_seq > ? ORDER BY first_seq",
        seq,
      )
      .toArray();
  }

  /** What is stored so far (for a RunSession that woke up after a restart). */
  storedTotals(): { lastSeq: number; frames: number; bytes: number; rows: number } {
    if (!this.#exists()) return { lastSeq: 0, frames: 0, bytes: 0, rows: 0 };
    const totals = this.#sql
      .exec<{ last: number | null; first: number | null; bytes: number | null; rows: number }>(
        "SELECT MAX(last_seq) AS last, MIN(first_seq) AS first, SUM(LENGTH(frames)) AS bytes, COUNT(*) AS rows FROM run_events",
      )
      .one();
    const last = totals.last ?? 0;
    return {
      lastSeq: last,
      frames: totals.first === null ? 0 : last - totals.first + 1,
      bytes: totals.bytes ?? 0,
      rows: totals.rows,
    };
  }

  /** After the Durable Object's storage was deleted: nothing is known any more. */
  forget(): void {
    this.#row = null;
    this.#created = false;
  }

  /** A row stored before a column was added gets the column (once, the first time it is read). */
  #migrated(row: RunRow): RunRow {
    const missing = Object.entries(ADDED_COLUMNS).filter(([column]) => !(column in row));
    for (const [column, { definition }] of missing)
      this.#sql.exec(`ALTER TABLE run_record ADD COLUMN ${column} ${definition}`);
    return { ...ADDED_DEFAULTS, ...row };
  }

  #exists(): boolean {
    if (this.#created) return true;
    this.#created =
      this.#sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_record'").toArray()
        .length > 0;
    return this.#created;
  }

  #ensureTables(): void {
    if (this.#created) return;
    for (const statement of TABLES) this.#sql.exec(statement);
    this.#created = true;
  }
}
