import {
  RUN_PAGE_DEFAULT,
  type RunListQuery,
  type RunPage,
  type RunSummary,
  RunSummarySchema,
} from "../contract/api.ts";
import { RunIdSchema } from "../contract/primitives.ts";
import { TheoryError } from "../core/errors.ts";

interface IndexRow {
  run_id: string;
  ref: string;
  target: string;
  agent: string | null;
  state: string;
  tags: string | null;
  metadata: string | null;
  created_at: string;
  settled_at: string | null;
}

/** Where a page ends: the last run it holds, by the listing's order (created_at, run_id), newest first. */
interface Cursor {
  createdAt: string;
  runId: string;
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Opaque to clients: base64url of the position's JSON. */
export function encodeCursor(cursor: Cursor): string {
  const bytes = new TextEncoder().encode(JSON.stringify([cursor.createdAt, cursor.runId]));
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** A cursor this API gave out, or ERR_INPUTS (400). */
export function decodeCursor(text: string): Cursor {
  const invalid = () => new TheoryError("ERR_INPUTS", "cursor is not one this API gave out", { status: 400 });
  let position: unknown;
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    position = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(position) || position.length !== 2) throw invalid();
  const [createdAt, runId] = position as unknown[];
  if (typeof createdAt !== "string" || !ISO_UTC.test(createdAt) || Number.isNaN(Date.parse(createdAt)))
    throw invalid();
  if (typeof runId !== "string" || !RunIdSchema.safeParse(runId).success) throw invalid();
  return { createdAt, runId };
}

/** A query's instant in the index's own form (UTC, milliseconds), so text comparison is time comparison. */
const utc = (instant: string) => new Date(instant).toISOString();

function summaryOf(row: IndexRow): RunSummary {
  return RunSummarySchema.parse({
    run_id: row.run_id,
    ref: row.ref,
    target: row.target,
    ...(row.agent === null ? {} : { agent: row.agent }),
    state: row.state,
    ...(row.tags === null ? {} : { tags: JSON.parse(row.tags) }),
    ...(row.metadata === null ? {} : { metadata: JSON.parse(row.metadata) }),
    created_at: row.created_at,
    ...(row.settled_at === null ? {} : { settled_at: row.settled_at }),
  });
}

/**
 * The run index in D1 (migrations/): one row per run and one per tag. RunSessions write it
 * through; `GET /v1/runs` reads it. Writes are idempotent, so a retried one is harmless.
 */
export class RunIndex {
  readonly #db: D1Database;

  constructor(db: D1Database) {
    this.#db = db;
  }

  /**
   * Records a run. `created` never overwrites a row (a late creation write cannot undo a settled
   * one); `settled` inserts or updates the state and settled_at.
   */
  async record(run: RunSummary, when: "created" | "settled"): Promise<void> {
    const insert = `INSERT INTO runs (run_id, ref, target, agent, state, tags, metadata, created_at, settled_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`;
    const conflict =
      when === "created"
        ? " ON CONFLICT (run_id) DO NOTHING"
        : " ON CONFLICT (run_id) DO UPDATE SET state = excluded.state, settled_at = excluded.settled_at";
    const row = this.#db
      .prepare(insert + conflict)
      .bind(
        run.run_id,
        run.ref,
        run.target,
        run.agent ?? null,
        run.state,
        run.tags ? JSON.stringify(run.tags) : null,
        run.metadata ? JSON.stringify(run.metadata) : null,
        run.created_at,
        run.settled_at ?? null,
      );
    const tags = (run.tags ?? []).map((tag) =>
      this.#db.prepare("INSERT OR IGNORE INTO run_tags (tag, run_id) VALUES (?, ?)").bind(tag, run.run_id),
    );
    await this.#db.batch([row, ...tags]);
  }

  /** At retention: the run is gone from listings too. */
  async forget(runId: string): Promise<void> {
    await this.#db.batch([
      this.#db.prepare("DELETE FROM run_tags WHERE run_id = ?").bind(runId),
      this.#db.prepare("DELETE FROM runs WHERE run_id = ?").bind(runId),
    ]);
  }

  /** One page, newest first, every given filter applied; `next_cursor` when more runs follow. */
  async list(query: RunListQuery): Promise<RunPage> {
    const where: string[] = [];
    const values: (string | number)[] = [];
    const filter = (clause: string, ...bound: string[]) => {
      where.push(clause);
      values.push(...bound);
    };
    if (query.ref) filter("ref = ?", query.ref);
    if (query.state) filter("state = ?", query.state);
    if (query.target) filter("target = ?", query.target);
    if (query.agent) filter("agent = ?", query.agent);
    if (query.tag)
      filter("EXISTS (SELECT 1 FROM run_tags t WHERE t.tag = ? AND t.run_id = runs.run_id)", query.tag);
    if (query.created_after) filter("created_at > ?", utc(query.created_after));
    if (query.created_before) filter("created_at < ?", utc(query.created_before));
    if (query.cursor) {
      const after = decodeCursor(query.cursor);
      filter(
        "(created_at < ? OR (created_at = ? AND run_id < ?))",
        after.createdAt,
        after.createdAt,
        after.runId,
      );
    }
    const limit = query.limit ?? RUN_PAGE_DEFAULT;
    const sql = `SELECT * FROM runs${where.length ? ` WHERE ${where.join(" AND ")}` : ""}
      ORDER BY created_at DESC, run_id DESC LIMIT ?`;
    const { results } = await this.#db
      .prepare(sql)
      .bind(...values, limit + 1)
      .all<IndexRow>();
    const page = results.slice(0, limit);
    const last = page.at(-1);
    return {
      runs: page.map(summaryOf),
      next_cursor:
        results.length > limit && last
          ? encodeCursor({ createdAt: last.created_at, runId: last.run_id })
          : null,
    };
  }
}
