/**
 * importDataset: the one entry point from a user's folder or file to valid records and a
 * JSON-serialisable report. Read-only on the user's files. Throws only DatasetError
 * ('unreadable-root') when the path itself cannot be read; everything else is reported.
 */
import { detectDataset, type DetectOptions } from './detect';
import { recordIssue } from './issues';
import { toCandidate, type Candidate } from './records';
import { summarize } from './summary';
import type { ImportResult, ValidationReport } from './types';
import { validateCandidates, type ValidateOptions } from './validate';

export interface ImportOptions extends DetectOptions, ValidateOptions {}

export async function importDataset(root: string, options: ImportOptions = {}): Promise<ImportResult> {
  const detected = await detectDataset(root, options);
  const candidates: Candidate[] = [];
  if (detected.shape) {
    const shape = detected.shape;
    detected.rows.forEach((row, index) => {
      if (row.parseError !== undefined) {
        const c: Candidate = { index, pos: row.pos, imageField: 'image', images: [], imageParts: 0, fromMessages: false, issues: [] };
        c.issues.push(recordIssue('error', 'invalid-json-line', row.pos, index, undefined, `is not valid JSON (${row.parseError})`));
        candidates.push(c);
      } else candidates.push(toCandidate(row.value, index, row.pos, shape));
    });
  }
  const validated = await validateCandidates(candidates, detected.baseDir, options);
  const issues = [...detected.issues, ...validated.issues];
  const total = detected.shape ? detected.rows.length : 0;
  const report: ValidationReport = {
    root,
    format: detected.format,
    files: detected.files,
    excluded: validated.excluded,
    issues,
    summary: summarize(total, validated.records, issues, validated.tokens),
    createdAt: new Date().toISOString(),
  };
  return { format: detected.format, records: validated.records, report };
}
