/**
 * The dataset validation report: the wire types shared by src/core/data (which produces it),
 * the store (which saves it as JSON) and the UI/CLI (which show it). They live here, in
 * src/shared, because shared code never depends on core; src/core/data re-exports them.
 * Everything is plain, JSON-serialisable data.
 */

/** Dataset formats the importer reads (see formats/detect.ts). */
export type DatasetFormat = 'silkie-json' | 'silkie-jsonl' | 'trl-json' | 'trl-jsonl' | 'llamafactory-sharegpt' | 'parquet';

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
