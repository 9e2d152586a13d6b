/**
 * The normalised preference record, and (re-exported from src/shared/validation.ts, where
 * they are defined) the validation report's types. Everything here is plain,
 * JSON-serialisable data: the store saves the report as is.
 */

import type { DatasetFormat, ValidationReport } from '../../shared/validation';

export type {
  DataIssue,
  DatasetFormat,
  Distribution,
  IssueCode,
  Severity,
  ValidationReport,
  ValidationSummary,
} from '../../shared/validation';

/** Where a record's image lives. Paths are absolute after import (inside the dataset root). */
export type ImageRef =
  | { kind: 'file'; path: string; relPath: string }
  /** Image bytes embedded in a parquet cell ({bytes, path} struct or a binary column). */
  | { kind: 'embedded'; file: string; row: number; column: string; element?: number; sha256: string; byteLength: number; name?: string };

/** Where a record came from, for messages and the UI. */
export interface SourcePos {
  /** The data file, relative to the dataset root. */
  file: string;
  /** 0-based position of the record in that file (row for parquet, element for JSON lists). */
  index: number;
  /** 1-based line where the record starts (JSON, JSONL); absent for parquet. */
  line?: number;
}

export interface PreferenceRecord {
  /** 0-based position among all records of the dataset (over every file). */
  index: number;
  /** The record's own id when it has one (id / idx / uid), else `${file}#${index}`. */
  id: string;
  image: ImageRef;
  /** Plain text: chat template tokens and the <image> marker removed (see notes). */
  prompt: string;
  chosen: string;
  rejected: string;
  source: SourcePos;
  /** Image header facts, filled by validation. */
  imageInfo?: ImageInfo;
}

export interface ImageInfo {
  format: string;
  width: number;
  height: number;
  channels: number;
  /** sha256 of the file's bytes (hex): the preprocessing cache key. */
  sha256: string;
  byteLength: number;
  /** Conversions the preprocessing applies (alpha flattened, CMYK to sRGB, ...). */
  conversions: string[];
}

export interface ImportResult {
  format: DatasetFormat | null;
  /** Valid records only, in dataset order. */
  records: PreferenceRecord[];
  report: ValidationReport;
}

/** The only error import throws: the dataset root itself cannot be read. */
export class DatasetError extends Error {
  override name = 'DatasetError';
  constructor(
    readonly code: 'unreadable-root',
    readonly file: string,
    message: string,
  ) {
    super(message);
  }
}
