/**
 * importDataset: the one entry point from a user's folder or file to valid records and a
 * JSON-serialisable report. Read-only on the user's files. Throws only DatasetError
 * ('unreadable-root') when the path itself cannot be read; everything else is reported.
 *
 * Records stream through in batches (read, parse, check, hand on), so memory does not grow
 * with the dataset beyond a small hash and id per kept record: `scanDataset` hands each batch
 * of valid records to a callback (the app writes them to disk), `importDataset` collects them.
 */
import { detectDataset, type DetectOptions } from './detect';
import { recordIssue } from './issues';
import type { RawRow } from './read-files';
import { toCandidate, type Candidate, type Shape } from './records';
import { summarize } from './summary';
import type { DatasetFormat, ImportResult, PreferenceRecord, ValidationReport } from './types';
import { Validator, type ValidateOptions } from './validate';

export interface ImportOptions extends DetectOptions, ValidateOptions {
  /** Records validated at a time (default 2000). */
  batchSize?: number;
}

export interface ScanResult {
  format: DatasetFormat | null;
  report: ValidationReport;
}

/** Valid records, in dataset order, a batch at a time. */
export type RecordSink = (records: PreferenceRecord[]) => void | Promise<void>;

function candidate(row: RawRow, index: number, shape: Shape): Candidate {
  if (row.error === undefined) return toCandidate(row.value, index, row.pos, shape);
  const c: Candidate = { index, pos: row.pos, imageField: 'image', images: [], imageParts: 0, fromMessages: false, issues: [] };
  c.issues.push(recordIssue('error', row.error.code, row.pos, index, row.error.field, row.error.detail));
  return c;
}

/**
 * Reads and validates the dataset at `root`, handing the valid records to `sink` batch by
 * batch. When a dataset-level error turns up after records were handed on (a JSON file broken
 * near its end, a parquet shard that cannot be read), the report says so with zero valid
 * records: the caller must then drop what it received (the app keeps nothing of such imports).
 */
export async function scanDataset(root: string, options: ImportOptions = {}, sink?: RecordSink): Promise<ScanResult> {
  const detected = await detectDataset(root, options);
  const validator = new Validator(detected.baseDir, options);
  const batchSize = Math.max(1, options.batchSize ?? 2000);
  let total = 0;
  const shape = detected.shape;
  if (shape) {
    let batch: Candidate[] = [];
    const flush = async (): Promise<void> => {
      const records = await validator.process(batch);
      batch = [];
      if (sink && records.length > 0) await sink(records);
      options.onProgress?.(detected.bytesRead, detected.totalBytes);
    };
    for await (const row of detected.rows) {
      batch.push(candidate(row, total++, shape));
      if (batch.length >= batchSize) await flush();
    }
    if (batch.length > 0) await flush();
  }
  options.onProgress?.(detected.totalBytes, detected.totalBytes);
  const failed = detected.failed;
  const issues = failed ? [...detected.issues] : [...detected.issues, ...validator.datasetNotes(), ...validator.issues];
  const empty = new Validator(detected.baseDir, options).stats;
  const report: ValidationReport = {
    root,
    format: detected.format,
    files: detected.files,
    excluded: failed ? [] : validator.excluded,
    issues,
    summary: failed ? summarize(0, 0, issues, empty) : summarize(total, validator.valid, issues, validator.stats),
    createdAt: new Date().toISOString(),
  };
  return { format: detected.format, report };
}

/** The report only (`datasets validate`): no record is kept in memory. */
export async function validateDataset(root: string, options: ImportOptions = {}): Promise<ScanResult> {
  return scanDataset(root, options);
}

/** The report and every valid record, in memory (tests, the study, small datasets). */
export async function importDataset(root: string, options: ImportOptions = {}): Promise<ImportResult> {
  let records: PreferenceRecord[] = [];
  const { format, report } = await scanDataset(root, options, (batch) => {
    for (const r of batch) records.push(r);
  });
  if (report.summary.valid === 0) records = [];
  return { format, records, report };
}
