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
