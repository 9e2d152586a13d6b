/** Issue constructors: every message names the file (and line), the record and the field. */
import type { DataIssue, IssueCode, Severity, SourcePos } from './types';

export function where(pos: SourcePos, record: number): string {
  const at = pos.line !== undefined ? `${pos.file}:${pos.line}` : `${pos.file} row ${pos.index}`;
  return `${at}, record ${record}`;
}

export function recordIssue(
  severity: Severity,
  code: IssueCode,
  pos: SourcePos,
  record: number,
  field: string | undefined,
  detail: string,
): DataIssue {
  const fieldText = field ? `, field "${field}"` : '';
  const issue: DataIssue = { severity, code, message: `${where(pos, record)}${fieldText}: ${detail}`, file: pos.file, record };
  if (pos.line !== undefined) issue.line = pos.line;
  if (field) issue.field = field;
  return issue;
}

export function datasetIssue(code: IssueCode, file: string, detail: string, line?: number): DataIssue {
  const at = line !== undefined ? `${file}:${line}` : file;
  const issue: DataIssue = { severity: 'error', code, message: `${at}: ${detail}`, file };
  if (line !== undefined) issue.line = line;
  return issue;
}
