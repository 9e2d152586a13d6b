/** Inputs and rows of the run store (public: re-exported from ./index). */
import type {
  DatasetSummary,
  HallucinationMark,
  ParsedObject,
  RunStatus,
  RunSummary,
  SerializedError,
  ValidationReport,
} from '../../shared/api';
import type { TrainConfig } from '../../shared/schemas';

export interface NewDataset {
  name: string;
  sourcePath: string;
  format: string;
  counts: DatasetSummary['counts'];
  report: ValidationReport;
}

export interface NewRun {
  name: string;
  datasetId: number | null;
  variant: string;
  config: TrainConfig;
  runDir: string;
  pairId?: string | null;
  parentCheckpoint?: string | null;
  status?: RunStatus;
}

export interface RunRow extends RunSummary {
  config: TrainConfig;
  runDir: string;
  parentCheckpoint: string | null;
  ownerPid: number | null;
  trainerPid: number | null;
}

export interface RunPatch {
  status?: RunStatus;
  backend?: string | null;
  step?: number;
  totalSteps?: number | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  ownerPid?: number | null;
  trainerPid?: number | null;
  error?: SerializedError | null;
}

export interface NewOutput {
  runId: number;
  image: string;
  imagePath?: string | null;
  question: string;
  answer: string;
  objects: ParsedObject[];
  marks: HallucinationMark[] | null;
}

/** Headline metrics shown in run lists. */
export const HEADLINE_METRICS = ['loss', 'rewards/accuracies', 'rewards/margins', 'rewards/imageless_accuracies'];

export const now = (): string => new Date().toISOString();
