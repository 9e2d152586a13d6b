import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FutureSchemaError, LATEST_VERSION, Store } from '../src/main/store';
import { migrate, type Migration } from '../src/main/store/migrations';

import type { ValidationReport } from '../src/shared/api';

const fakeReport = { root: '/x', format: 'silkie-jsonl', files: [], excluded: [], issues: [], summary: {}, createdAt: '' } as unknown as ValidationReport;
const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mdpo-store-'));
  dirs.push(dir);
  return join(dir, 'studio.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('store migrations', () => {
  it('creates a WAL database with foreign keys, STRICT tables and a migration record', () => {
    const store = Store.open(tempDb(), { appVersion: '1.2.3' });
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.schemaVersion()).toBe(LATEST_VERSION);
    const rows = store.db.prepare('SELECT version, app_version FROM schema_migrations').all();
    expect(rows).toEqual([
      { version: 1, app_version: '1.2.3' },
      { version: 2, app_version: '1.2.3' },
    ]);
    const tables = store.db.prepare("SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%'").all() as { name: string; strict: number }[];
    expect(tables.map((t) => t.name).sort()).toEqual([
      'answer_jobs',
      'answer_marks',
      'answers',
      'checkpoints',
      'datasets',
      'eval_items',
      'eval_sets',
      'evaluations',
      'judgment_log',
      'metrics',
      'outputs',
      'runs',
      'schema_migrations',
      'verdicts',
    ]);
    for (const t of tables) expect(t.strict, t.name).toBe(1);
    // STRICT: a text in an INTEGER column is refused, not coerced.
    expect(() => store.db.prepare("INSERT INTO checkpoints VALUES (1, 'x', 'p', 'now')").run()).toThrow();
    store.close();
  });

  it('reopening is idempotent and keeps data', () => {
    const path = tempDb();
    const a = Store.open(path);
    const id = a.insertDataset({ name: 'd', sourcePath: '/x', format: 'jsonl', counts: { records: 2, valid: 2, errors: 0, warnings: 0 }, report: fakeReport });
    a.close();
    const b = Store.open(path);
    expect(b.getDataset(id)?.counts.records).toBe(2);
    expect(b.db.prepare('SELECT COUNT(*) AS n FROM schema_migrations').get()).toEqual({ n: LATEST_VERSION });
    b.close();
  });

  it('applies later migrations in order, each in its own transaction', () => {
    const path = tempDb();
    const db = new Database(path);
    const steps: Migration[] = [
      { version: 1, name: 'one', sql: 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL, app_version TEXT NOT NULL) STRICT; CREATE TABLE a (x INTEGER) STRICT;' },
      { version: 2, name: 'two', sql: 'ALTER TABLE a ADD COLUMN y TEXT;' },
      { version: 3, name: 'broken', sql: 'CREATE TABLE b (x INTEGER) STRICT; SELECT * FROM nowhere;' },
    ];
    expect(migrate(db, 't', steps.slice(0, 2))).toEqual({ from: 0, to: 2 });
    expect(() => migrate(db, 't', steps)).toThrow(/nowhere/);
    // The failed migration left nothing behind: still v2, no table b.
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'b'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('refuses a database written by a newer schema with a clear message', () => {
    const path = tempDb();
    Store.open(path).close();
    const db = new Database(path);
    db.pragma('user_version = 7');
    db.close();
    let error: unknown;
    try {
      Store.open(path);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FutureSchemaError);
    expect((error as Error).message).toBe(
      `This database was written by mDPO Studio schema v7; this build understands up to v${LATEST_VERSION}. Upgrade the app or use another data folder.`,
    );
    // Nothing was changed by the refusal.
    const check = new Database(path);
    expect(check.pragma('user_version', { simple: true })).toBe(7);
    check.close();
  });
});
