/**
 * Opening the store's SQLite file: better-sqlite3, WAL, foreign keys on, migrations applied
 * (read-only opens only check that the file is not from a newer build).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { FutureSchemaError, LATEST_VERSION, migrate } from './migrations';
import { sqliteNativeBinding } from './native';

export interface OpenOptions {
  appVersion?: string;
  readonly?: boolean;
}

/** Opens (creating if needed) and migrates the database; refuses one from a newer build. */
export function openDatabase(path: string, options: OpenOptions = {}): Database.Database {
  if (!options.readonly) mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false, nativeBinding: sqliteNativeBinding() });
  try {
    db.pragma('busy_timeout = 5000');
    db.pragma('foreign_keys = ON');
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a commit survives a process crash; power loss may lose the last
      // transactions but never corrupts the file.
      db.pragma('synchronous = NORMAL');
      migrate(db, options.appVersion ?? '0.0.0');
    } else {
      migrateCheckOnly(db);
    }
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function migrateCheckOnly(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > LATEST_VERSION) throw new FutureSchemaError(version, LATEST_VERSION);
}
