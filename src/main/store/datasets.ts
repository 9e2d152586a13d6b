/** Dataset rows: one per import, with its validation report. */
import type Database from 'better-sqlite3';
import type { DatasetSummary, ValidationReport } from '../../shared/api';
import { type NewDataset, now } from './types';

interface DatasetDbRow {
  id: number;
  name: string;
  source_path: string;
  format: string;
  created_at: string;
  record_count: number;
  valid_count: number;
  error_count: number;
  warning_count: number;
}

export function insertDataset(db: Database.Database, d: NewDataset): number {
  const c = d.counts;
  const info = db
    .prepare(
      `INSERT INTO datasets (name, source_path, format, created_at, record_count, valid_count, error_count, warning_count, report)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(d.name, d.sourcePath, d.format, now(), c.records, c.valid, c.errors, c.warnings, JSON.stringify(d.report));
  return Number(info.lastInsertRowid);
}

export function listDatasets(db: Database.Database): DatasetSummary[] {
  const rows = db.prepare('SELECT * FROM datasets ORDER BY id DESC').all() as DatasetDbRow[];
  return rows.map(toDataset);
}

export function getDataset(db: Database.Database, id: number): (DatasetSummary & { report: ValidationReport }) | null {
  const row = db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as (DatasetDbRow & { report: string }) | undefined;
  if (!row) return null;
  return { ...toDataset(row), report: JSON.parse(row.report) as ValidationReport };
}

export function deleteDataset(db: Database.Database, id: number): boolean {
  return db.prepare('DELETE FROM datasets WHERE id = ?').run(id).changes > 0;
}

function toDataset(row: DatasetDbRow): DatasetSummary {
  return {
    id: row.id,
    name: row.name,
    sourcePath: row.source_path,
    format: row.format,
    createdAt: row.created_at,
    counts: { records: row.record_count, valid: row.valid_count, errors: row.error_count, warnings: row.warning_count },
  };
}
