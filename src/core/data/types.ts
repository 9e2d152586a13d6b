/**
 * The normalised preference record and the validation report. Everything here is plain,
 * JSON-serialisable data: the store saves the report as is.
 */

/** Dataset formats the importer reads (see formats/detect.ts). */
export type DatasetFormat = 'silkie-json' | 'silkie-jsonl' | 'trl-json' | 'trl-jsonl' | 'llamafactory-sharegpt' | 'parquet';

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

export type Severity = 'error' | 'warning' | 'note';

/** Stable issue codes: tests, the UI and the store match on these, never on messages. */
export type IssueCode =
  // Dataset level (no record excluded individually; the dataset may be empty).
  | 'unknown-format'
  | 'invalid-json'
  | 'invalid-parquet'
  | 'invalid-dataset-info'
  | 'ambiguous-dataset'
  | 'empty-dataset'
  | 'other-splits-skipped'
  // Record structure.
  | 'invalid-json-line'
  | 'invalid-utf8'
  | 'not-an-object'
  | 'missing-field'
  | 'wrong-type'
  | 'empty-field'
  | 'bad-messages'
  | 'chosen-equals-rejected'
  | 'duplicate-record'
  | 'duplicate-id'
  | 'image-marker-mismatch'
  | 'no-image'
  | 'too-many-images'
  // Image files.
  | 'image-path-escape'
  | 'image-not-found'
  | 'image-not-a-file'
  | 'image-unreadable'
  | 'image-empty'
  | 'image-truncated'
  | 'image-not-image'
  | 'image-too-large'
  | 'image-animated'
  | 'image-cmyk'
  | 'image-16bit'
  | 'image-alpha'
  | 'image-grayscale'
  // Text.
  | 'chat-template-stripped'
  | 'image-marker-stripped'
  | 'prompt-over-budget'
  | 'answer-over-budget';

export interface DataIssue {
  severity: Severity;
  code: IssueCode;
  /** Names the record, the field and the file. */
  message: string;
  file?: string;
  /** Record index among all records (absent for dataset-level issues). */
  record?: number;
  /** 1-based line in the file, when known. */
  line?: number;
  field?: string;
}

/** min / median / p90 / max / mean of a list of numbers (all 0 for an empty list). */
export interface Distribution {
  count: number;
  min: number;
  median: number;
  p90: number;
  max: number;
  mean: number;
}

export interface ValidationSummary {
  records: number;
  valid: number;
  excluded: number;
  errors: number;
  warnings: number;
  notes: number;
  byCode: Partial<Record<IssueCode, number>>;
  /** Characters (and tokens when a tokenizer was given). */
  lengths: {
    promptChars: Distribution;
    chosenChars: Distribution;
    rejectedChars: Distribution;
    promptTokens?: Distribution;
    chosenTokens?: Distribution;
    rejectedTokens?: Distribution;
  };
  images: { width: Distribution; height: Distribution; pixels: Distribution; formats: Record<string, number> };
}

export interface ValidationReport {
  /** The path the user picked, and the data files read, relative to it. */
  root: string;
  format: DatasetFormat | null;
  files: string[];
  /** Indices of records that are excluded (have at least one error). */
  excluded: number[];
  issues: DataIssue[];
  summary: ValidationSummary;
  createdAt: string;
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
