/**
 * Versioned schema migrations, tracked in the database itself: `PRAGMA user_version` holds
 * the schema version and `schema_migrations` records when each step ran and by which app
 * version. A database written by a newer build (user_version above the last migration here)
 * is refused, never "migrated down" or half-read.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const RUN_STATUSES = `'queued','running','paused','completed','failed','cancelled','interrupted'`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE schema_migrations (
        version INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TEXT NOT NULL,
        app_version TEXT NOT NULL
      ) STRICT;

      CREATE TABLE datasets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        source_path TEXT NOT NULL,
        format TEXT NOT NULL,
        created_at TEXT NOT NULL,
        record_count INTEGER NOT NULL,
        valid_count INTEGER NOT NULL,
        error_count INTEGER NOT NULL,
        warning_count INTEGER NOT NULL,
        report TEXT NOT NULL CHECK (json_valid(report))
      ) STRICT;

      CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        dataset_id INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
        variant TEXT NOT NULL,
        config TEXT NOT NULL CHECK (json_valid(config)),
        status TEXT NOT NULL CHECK (status IN (${RUN_STATUSES})),
        backend TEXT,
        pair_id TEXT,
        parent_checkpoint TEXT,
        run_dir TEXT NOT NULL,
        step INTEGER NOT NULL DEFAULT 0,
        total_steps INTEGER,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        -- Process that owns the trainer while status is running/paused: a dead owner at start-up
        -- means the run was interrupted.
        owner_pid INTEGER,
        trainer_pid INTEGER,
        error TEXT CHECK (error IS NULL OR json_valid(error))
      ) STRICT;
      CREATE INDEX runs_pair ON runs(pair_id);

      CREATE TABLE metrics (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        step INTEGER NOT NULL,
        value REAL,
        PRIMARY KEY (run_id, name, step)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE checkpoints (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        step INTEGER NOT NULL,
        path TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, step)
      ) STRICT;

      CREATE TABLE evaluations (
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        setting TEXT NOT NULL DEFAULT '',
        value REAL NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, metric, setting)
      ) STRICT;

      CREATE TABLE outputs (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        image TEXT NOT NULL,
        image_path TEXT,
        question TEXT NOT NULL,
        answer TEXT NOT NULL,
        objects TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(objects)),
        marks TEXT CHECK (marks IS NULL OR json_valid(marks)),
        hallucinated INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX outputs_run ON outputs(run_id, id);
    `,
  },
  {
    version: 2,
    name: 'evaluation sets, answer jobs and human judgments',
    sql: `
      -- An evaluation set: an imported probe set, or the records a run held out of its dataset.
      CREATE TABLE eval_sets (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('probe', 'holdout')),
        source_path TEXT NOT NULL,
        format TEXT,
        run_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,
        created_at TEXT NOT NULL,
        record_count INTEGER NOT NULL,
        error_count INTEGER NOT NULL,
        warning_count INTEGER NOT NULL,
        report TEXT CHECK (report IS NULL OR json_valid(report))
      ) STRICT;

      CREATE TABLE eval_items (
        id INTEGER PRIMARY KEY,
        set_id INTEGER NOT NULL REFERENCES eval_sets(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        item_key TEXT NOT NULL,
        -- src/core/data ImageRef (JSON): where the image bytes are.
        image TEXT NOT NULL CHECK (json_valid(image)),
        question TEXT NOT NULL,
        truth TEXT CHECK (truth IS NULL OR json_valid(truth)),
        reference TEXT CHECK (reference IS NULL OR json_valid(reference)),
        UNIQUE (set_id, idx)
      ) STRICT;

      -- One model answering every item of a set with one set of generation settings.
      CREATE TABLE answer_jobs (
        id INTEGER PRIMARY KEY,
        set_id INTEGER NOT NULL REFERENCES eval_sets(id) ON DELETE CASCADE,
        model_key TEXT NOT NULL,
        model_label TEXT NOT NULL,
        run_id INTEGER REFERENCES runs(id) ON DELETE CASCADE,
        model_fingerprint TEXT NOT NULL,
        adapter_fingerprint TEXT,
        settings TEXT NOT NULL CHECK (json_valid(settings)),
        -- sha256 of (model, adapter, settings): answers with this key are reused.
        answer_key TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('queued','running','completed','failed','cancelled','interrupted')),
        done INTEGER NOT NULL DEFAULT 0,
        total INTEGER NOT NULL,
        reused INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        finished_at TEXT,
        owner_pid INTEGER,
        error TEXT CHECK (error IS NULL OR json_valid(error))
      ) STRICT;
      CREATE INDEX answer_jobs_set ON answer_jobs(set_id, model_key);

      -- Generated answers, one per item and answer key; written one at a time, so a crashed job
      -- resumes without redoing the finished items.
      CREATE TABLE answers (
        id INTEGER PRIMARY KEY,
        item_id INTEGER NOT NULL REFERENCES eval_items(id) ON DELETE CASCADE,
        answer_key TEXT NOT NULL,
        text TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (item_id, answer_key)
      ) STRICT;

      -- A person's span marks: this part of the answer is hallucinated.
      CREATE TABLE answer_marks (
        id INTEGER PRIMARY KEY,
        answer_id INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        span_start INTEGER NOT NULL CHECK (span_start >= 0),
        span_end INTEGER NOT NULL CHECK (span_end > span_start),
        created_at TEXT NOT NULL,
        UNIQUE (answer_id, span_start, span_end)
      ) STRICT;

      -- A person's verdict on a pair of answers to the same item (A = answer_a).
      CREATE TABLE verdicts (
        answer_a INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        answer_b INTEGER NOT NULL REFERENCES answers(id) ON DELETE CASCADE,
        verdict TEXT CHECK (verdict IS NULL OR verdict IN ('a', 'b', 'tie', 'both-wrong')),
        note TEXT NOT NULL DEFAULT '',
        updated_at TEXT NOT NULL,
        PRIMARY KEY (answer_a, answer_b)
      ) STRICT;

      -- Every judgment change, newest last, with what it replaced: undo pops the last one.
      CREATE TABLE judgment_log (
        id INTEGER PRIMARY KEY,
        set_id INTEGER NOT NULL REFERENCES eval_sets(id) ON DELETE CASCADE,
        action TEXT NOT NULL CHECK (json_valid(action)),
        created_at TEXT NOT NULL
      ) STRICT;
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export class FutureSchemaError extends Error {
  override name = 'FutureSchemaError';
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      `This database was written by mDPO Studio schema v${found}; this build understands up to ` +
        `v${supported}. Upgrade the app or use another data folder.`,
    );
  }
}

/** Brings the database to the latest schema version, one transaction per migration. */
export function migrate(
  db: Database.Database,
  appVersion: string,
  migrations: readonly Migration[] = MIGRATIONS,
): { from: number; to: number } {
  const supported = migrations[migrations.length - 1]!.version;
  const from = db.pragma('user_version', { simple: true }) as number;
  if (from > supported) throw new FutureSchemaError(from, supported);
  for (const m of migrations) {
    if (m.version <= from) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare(
        'INSERT INTO schema_migrations (version, name, applied_at, app_version) VALUES (?, ?, ?, ?)',
      ).run(m.version, m.name, new Date().toISOString(), appVersion);
      // user_version is set inside the transaction: a failed migration leaves no trace.
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return { from, to: supported };
}
