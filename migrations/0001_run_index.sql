-- The run index (GET /v1/runs): one row per run, written through by its RunSession when the run
-- is created and when it settles, deleted at retention. Listing is newest first by
-- (created_at, run_id), which is also the cursor; created_at is ISO 8601 UTC with milliseconds,
-- so text order is time order.
CREATE TABLE runs (
  run_id TEXT PRIMARY KEY,
  ref TEXT NOT NULL,
  target TEXT NOT NULL,
  agent TEXT,
  state TEXT NOT NULL,
  tags TEXT,
  metadata TEXT,
  created_at TEXT NOT NULL,
  settled_at TEXT
);
CREATE INDEX runs_by_created ON runs (created_at DESC, run_id DESC);

-- One row per tag of a run, for the tag filter.
CREATE TABLE run_tags (
  tag TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (tag, run_id)
);
