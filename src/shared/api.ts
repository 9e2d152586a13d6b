/**
 * The one API contract between the UI and the back end. Types (and two plain constants)
 * only: every side imports it (renderer, preload, main, CLI) and none may add a second
 * definition. Input types come from the zod schemas in ./schemas (validated at every
 * boundary); outputs are the records below.
 *
 * Transport: every method is `domain:verb` with one input object. Electron sends it over
 * IPC (`ipcRenderer.invoke(channel, input)`), browser mode POSTs it to `/api/<channel>`,
 * the CLI calls the handler directly. Every transport answers with an ApiResult envelope;
 * ./client turns that back into a value or a thrown ApiError.
 * Live events (progress, metrics, status) arrive through `events.subscribe`: IPC messages on
 * the `events:push` channel in Electron, server-sent events from `/api/events` in the browser.
 */
import type { MethodInput, TrainConfig, TrainConfigInput } from './schemas';
import type * as Inspect from './inspect';
import type { AppInfo, TorchDoctor } from './app-info';

/** Hallucination inspection on the user's own data (evaluation sets, answers, judgments). */
export type * from './inspect';
/** The app's state: backend, version, the torch engine's doctor report. */
export type * from './app-info';

export type { TrainConfig, TrainConfigInput };

// ---------------------------------------------------------------------------------------
// Datasets
// ---------------------------------------------------------------------------------------

export interface DatasetSummary {
  id: number;
  name: string;
  sourcePath: string;
  /** silkie-json, silkie-jsonl, trl-json, trl-jsonl, llamafactory-sharegpt, parquet (or 'unknown'). */
  format: string;
  createdAt: string;
  /** records = all records read; valid = imported; errors = excluded records. */
  counts: { records: number; valid: number; errors: number; warnings: number };
}

/**
 * The validation report stored with a dataset, as src/core/data produces it (defined in
 * ./validation.ts, which core imports: shared never depends on core). issues[].code is stable
 * (match on it, not on messages); issues[].record is the 0-based record index; excluded lists
 * the indices of records with at least one error.
 */
export type { ValidationReport, DataIssue, IssueCode, ValidationSummary, Distribution } from './validation';
import type { DataIssue, ValidationReport } from './validation';

export interface DatasetDetail extends DatasetSummary {
  report: ValidationReport;
}

/** A valid (imported) record. Records with errors are excluded and listed in the report. */
export interface DatasetRecord {
  /** 0-based position among all records of the dataset (the report's issues[].record). */
  index: number;
  /** The record's own id, or `${file}#${index}`. */
  id: string;
  /** An image reference for images:get. */
  image: ImageRef;
  prompt: string;
  chosen: string;
  rejected: string;
  /** Where it came from (data file relative to the dataset root, 1-based line when known). */
  source: { file: string; line: number | null };
  /** Warnings and notes for this record (errors would have excluded it). */
  issues: DataIssue[];
}

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
}

export interface NegativePreview {
  /** PNG data URLs. */
  original: string;
  negatives: string[];
  strategy: string;
}

// ---------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------

/** A cluster job brought back by runs:importJob. */
export interface ImportedJobSummary {
  runId: number;
  status: RunStatus;
  step: number;
  totalSteps: number | null;
  checkpoints: number[];
  adapter: boolean;
}

export type RunStatus =
  | 'queued'
  | 'running'
  | 'paused'
  | 'completed'
  | 'failed'
  | 'cancelled'
  /** The trainer process died (crash, kill -9, power loss); resumable from its last checkpoint. */
  | 'interrupted';

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

export interface RunSummary {
  id: number;
  name: string;
  datasetId: number | null;
  variant: string;
  status: RunStatus;
  backend: string | null;
  /** Shared by the dpo and mdpo runs of a matched pair; null otherwise. */
  pairId: string | null;
  step: number;
  totalSteps: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Last checkpoint step this run can resume from. */
  lastCheckpointStep: number | null;
  /** Latest value of the headline metrics (loss, rewards/accuracies ...). */
  latest: Record<string, number>;
  error: SerializedError | null;
}

export interface RunDetail extends RunSummary {
  config: TrainConfig;
  /** Checkpoint folder this run started from (a resumed/forked run), if any. */
  parentCheckpoint: string | null;
  checkpoints: CheckpointInfo[];
  progress: RunProgress | null;
}

export interface CheckpointInfo {
  step: number;
  path: string;
  createdAt: string;
}

export interface RunProgress {
  step: number;
  totalSteps: number;
  epoch: number;
  elapsedMs: number;
  /** null until a few steps give a rate. */
  etaMs: number | null;
  pairsPerSec: number | null;
  tokensPerSec: number | null;
}

/** One metric's series; steps and values are parallel arrays (cheap to chart). */
export interface MetricSeries {
  name: string;
  steps: number[];
  /** null where the value was NaN/Inf. */
  values: (number | null)[];
}

export interface RunMetrics {
  runId: number;
  series: MetricSeries[];
}

export interface ConfigDifference {
  /** Dotted path in the config, e.g. "negative.cropMax". */
  path: string;
  /** One value per run, in the order asked. */
  values: unknown[];
}

export interface ConfigDiff {
  runIds: number[];
  differences: ConfigDifference[];
}

export interface EvaluationRow {
  /** CHAIR_s, CHAIR_i (every mention), Cover, Cog (AMBER's Hal = CHAIR_s), POPE/accuracy, POPE/f1, POPE/yes_ratio, image_reliance ... */
  metric: string;
  /** POPE setting (random/popular/adversarial) or '' where none applies. */
  setting: string;
  value: number;
}

/** An object mentioned in an answer, with its character span. */
export interface ParsedObject {
  name: string;
  start: number;
  end: number;
}

/** A mark on an answer: the object at `start..end` is present in the image or hallucinated. */
export interface HallucinationMark {
  object: string;
  start: number;
  end: number;
  kind: 'correct' | 'hallucinated';
}

export interface OutputRow {
  id: number;
  runId: number;
  image: ImageRef;
  question: string;
  answer: string;
  objects: ParsedObject[];
  /** null when no annotations exist for the image. */
  marks: HallucinationMark[] | null;
}

export interface AskResult {
  runId: number;
  answer: string;
  objects: ParsedObject[];
  marks: HallucinationMark[] | null;
}

/**
 * Opaque image reference, resolved by images:get: `record:<datasetId>:<index>`,
 * `output:<outputId>`. The UI never sends file paths to read.
 */
export type ImageRef = string;

export interface ImageData {
  /** A PNG/JPEG data URL. */
  dataUrl: string;
  width: number;
  height: number;
}

/**
 * The demo runs in the background (minutes: it first builds preference pairs from the base
 * model). Its dataset and runs appear as it reaches them: watch `dataset:imported`,
 * `run:status` and `demo:progress` events, or refresh datasets:list / runs:list.
 * datasetId and runIds are empty at start; they are here for callers that await a finished demo.
 */
export interface DemoStarted {
  started: true;
  /** Where results.json / results.md / report.html are written. */
  outDir: string;
  datasetId: number | null;
  runIds: number[];
}

// ---------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------

export type ApiEvent =
  | { type: 'run:status'; runId: number; status: RunStatus; error: SerializedError | null }
  | ({ type: 'run:progress'; runId: number } & RunProgress)
  | { type: 'run:metrics'; runId: number; step: number; values: Record<string, number | null> }
  | { type: 'run:checkpoint'; runId: number; step: number }
  /** An evaluation of a finished run (runs:evaluate): progress, then done (rows are in runs:evaluations) or failed. */
  | { type: 'run:evaluation'; runId: number; state: 'running' | 'done' | 'failed'; done: number; total: number; error: SerializedError | null }
  | { type: 'dataset:imported'; datasetId: number }
  | { type: 'demo:progress'; stage: string; message: string; fraction: number | null }
  /** The demo ended: done, failed (error set) or cancelled. */
  | { type: 'demo:finished'; state: 'done' | 'failed' | 'cancelled'; outDir: string; error: SerializedError | null }
  /** An answer job moved: an item answered (done), or it ended (status). */
  | {
      type: 'answers:progress';
      jobId: number;
      setId: number;
      modelKey: string;
      status: Inspect.AnswerJobStatus;
      done: number;
      total: number;
      etaMs: number | null;
      error: { name: string; message: string } | null;
    };

// ---------------------------------------------------------------------------------------
// Methods
// ---------------------------------------------------------------------------------------

/** Output type of every method, by channel. Inputs: MethodInput<channel> (./schemas). */
export interface ApiOutputs {
  'app:info': AppInfo;
  /** null when the user cancels, or in browser mode (no dialogs: the UI shows a path field). */
  'app:pickPath': string | null;
  /** The torch engine's Python, packages and devices (cached; refresh probes again). */
  'app:doctor': TorchDoctor;

  'datasets:import': DatasetDetail;
  'datasets:list': DatasetSummary[];
  'datasets:get': DatasetDetail;
  'datasets:records': Page<DatasetRecord>;
  'datasets:report': ValidationReport;
  'datasets:negativePreview': NegativePreview;
  'datasets:delete': { deleted: true };

  /** One run, or two (dpo first, then mdpo) for a pair. */
  'runs:create': RunSummary[];
  'runs:list': RunSummary[];
  'runs:get': RunDetail;
  'runs:metrics': RunMetrics;
  'runs:pause': RunSummary;
  'runs:resume': RunSummary;
  'runs:cancel': RunSummary;
  'runs:delete': { deleted: true };
  'runs:diff': ConfigDiff;
  'runs:exportJob': { dir: string; files: number };
  'runs:importJob': ImportedJobSummary;
  /** Starts evaluating a completed run on held-out world scenes; results arrive as evaluations and outputs. */
  'runs:evaluate': { runId: number; started: true };
  'runs:evaluations': EvaluationRow[];
  'runs:outputs': Page<OutputRow>;
  'runs:ask': AskResult;

  /** Imports a probe set (POPE JSONL, object-annotated, plain); errors are in the report, like datasets. */
  'evalsets:import': Inspect.EvalSetDetail;
  /** The records a run held out of its dataset (config.holdOut), as an evaluation set. */
  'evalsets:fromRun': Inspect.EvalSetDetail;
  'evalsets:list': Inspect.EvalSetSummary[];
  'evalsets:get': Inspect.EvalSetDetail;
  'evalsets:delete': { deleted: true };
  /** Models that can answer: completed runs (base + adapter) and their base checkpoints. */
  'answers:models': { key: string; label: string; kind: 'base' | 'run'; runId: number }[];
  /** One job per model; answers already stored for the same model, adapter and settings are reused. */
  'answers:start': Inspect.AnswerJob[];
  'answers:jobs': Inspect.AnswerJob[];
  'answers:cancel': Inspect.AnswerJob;
  'inspect:page': Inspect.InspectPage;
  'inspect:mark': { markId: number | null };
  'inspect:unmark': { removed: boolean };
  'inspect:verdict': { saved: true };
  /** Reverts the newest judgment change of the set (null when there is none). */
  'inspect:undo': { undone: 'verdict' | 'mark-add' | 'mark-remove' | null };
  /** Judged items as a preference dataset (silkie-jsonl + images), optionally imported right away. */
  'inspect:exportPairs': { path: string; pairs: number; skipped: number; datasetId: number | null };
  'inspect:exportJudgments': { path: string; rows: number };
  /** A self-contained HTML report (scores, tallies with intervals, every item with its image). */
  'inspect:report': { path: string; items: number };
  'images:get': ImageData;

  'demo:start': DemoStarted;
  /** Stops a running demo (its current run is cancelled). */
  'demo:cancel': { cancelled: boolean };
}

export type ApiChannel = keyof ApiOutputs;

/** Every channel, at run time (preload and HTTP client build the API from this list). */
export const API_CHANNELS = [
  'app:info',
  'app:pickPath',
  'app:doctor',
  'datasets:import',
  'datasets:list',
  'datasets:get',
  'datasets:records',
  'datasets:report',
  'datasets:negativePreview',
  'datasets:delete',
  'runs:create',
  'runs:list',
  'runs:get',
  'runs:metrics',
  'runs:pause',
  'runs:resume',
  'runs:cancel',
  'runs:delete',
  'runs:diff',
  'runs:exportJob',
  'runs:importJob',
  'runs:evaluate',
  'runs:evaluations',
  'runs:outputs',
  'runs:ask',
  'evalsets:import',
  'evalsets:fromRun',
  'evalsets:list',
  'evalsets:get',
  'evalsets:delete',
  'answers:models',
  'answers:start',
  'answers:jobs',
  'answers:cancel',
  'inspect:page',
  'inspect:mark',
  'inspect:unmark',
  'inspect:verdict',
  'inspect:undo',
  'inspect:exportPairs',
  'inspect:exportJudgments',
  'inspect:report',
  'images:get',
  'demo:start',
  'demo:cancel',
] as const satisfies readonly ApiChannel[];

type Domain<C> = C extends `${infer D}:${string}` ? D : never;
type VerbsOf<D extends string> = {
  [C in ApiChannel as C extends `${D}:${infer V}` ? V : never]: (
    input: MethodInput<C>,
  ) => Promise<ApiOutputs[C]>;
};

/** Every method the UI can call, nested: `api.runs.create({ config, pair: true })`. */
export type Api = { [D in Domain<ApiChannel>]: VerbsOf<D> } & {
  events: {
    /** Calls `listener` for every live event; returns the unsubscribe function. */
    subscribe(listener: (event: ApiEvent) => void): () => void;
  };
};

// ---------------------------------------------------------------------------------------
// Errors and the wire envelope
// ---------------------------------------------------------------------------------------

export type ApiErrorCode = 'bad_request' | 'not_found' | 'conflict' | 'unavailable' | 'internal';

export interface ApiErrorBody {
  code: ApiErrorCode;
  message: string;
  /** The offending input field (dotted path) for bad_request. */
  field?: string;
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ApiErrorBody };

/** Thrown by the client side of every transport; carries the field for form errors. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ApiErrorCode;
  readonly field: string | undefined;
  constructor(body: ApiErrorBody) {
    super(body.message);
    this.code = body.code;
    this.field = body.field;
  }
}

/** HTTP status for each error code (browser mode). */
export const HTTP_STATUS: Record<ApiErrorCode, number> = {
  bad_request: 400,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  internal: 500,
};

/** The global the preload exposes in Electron. */
export const API_GLOBAL = 'mdpo' as const;
/** IPC channel on which main pushes ApiEvents to the window. */
export const EVENTS_CHANNEL = 'events:push' as const;
