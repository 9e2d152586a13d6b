/**
 * What a study is asked to do and what it reports while it runs: the settings, the hooks a
 * driver (the CLI scripts, the app's run store) hangs off, the phase clock, and the context
 * prepareStudy hands to every arm.
 */
import type { EvaluationRow, HallucinationMark, ParsedObject, SerializedError } from '../../shared/api';
import type { TrainConfig } from '../../shared/schemas';
import type { BackendInfo, BackendName } from '../backend';
import type { DatasetPreferenceSource, ImportResult } from '../data';
import { loadCheckpoint } from '../model/checkpoint';
import type { Vlm } from '../model/model';
import type { WordTokenizer } from '../model/tokenizer';
import type { StepEvent } from '../train';
import type { ObjectStats } from '../world/pope';
import type { Scene } from '../world/scene';
import type { ArmSpec } from './arms';
import type { Metrics } from './results';

/**
 * Peak learning rate of LoRA on the built-in ~0.4M-parameter model (the paper's 1e-5 (docs/objective.md#defaults) is for
 * 3B-7B models; at that rate the small model's adapters do not move in a few dozen steps).
 * 1e-3 is also the app's default for the built-in model (src/main/trainer/base-load.ts), chosen
 * from a short DPO run on an early base. The 5-seed sweep of 3e-4 / 1e-3 / 3e-3 for DPO and mDPO
 * is in docs/results/sweep/ (mDPO nearly flat over the range; DPO collapses more as it grows).
 */
export const WORLD_LEARNING_RATE = 1e-3;

export interface StudySettings {
  /** The base checkpoint folder (config.json + model.safetensors + tokenizer.json). */
  baseDir: string;
  /** Where the dataset, the evaluation scenes and the results go. */
  outDir: string;
  /** Seeds the world: pair scenes, held-out scenes, POPE questions, sampling. */
  worldSeed: number;
  /** Scenes of the "pairs" split sampled for preference pairs. */
  pairScenes: number;
  samplesPerQuestion: number;
  temperature: number;
  /** Adversarial POPE questions per pair scene sampled and judged beside the description (0: descriptions only). */
  popePairs: number;
  /** Held-out scenes for CHAIR/Cover/Hal and POPE. */
  evalScenes: number;
  /** Held-out scenes sampled for the image-reliance pairs (a prefix of the evaluation scenes). */
  relianceScenes: number;
  /** SFT scenes whose object statistics rank POPE's popular/adversarial objects. */
  statsScenes: number;
  /** Training seeds (one run per arm and seed). */
  seeds: number[];
  learningRate: number;
  /** Optimizer steps (null: `epochs` over the pairs). */
  steps: number | null;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  beta: number;
  loraRank: number;
  loraAlpha: number;
  /** Samples shown side by side in the report. */
  samples: number;
  backend: BackendName | 'auto';
}

export type Phase = string;

export interface ProgressEvent {
  phase: Phase;
  done: number;
  total: number;
  elapsedMs: number;
  /** null until there is a rate to extrapolate from. */
  etaMs: number | null;
  /** true once, when the phase ends. */
  finished: boolean;
  detail?: string;
}

export interface ArmRunInfo {
  arm: ArmSpec;
  seed: number;
  /** The run as the app stores it (src/shared TrainConfig); null for the base arm. */
  config: TrainConfig | null;
  totalSteps: number;
  backend: string;
}

export interface OutputRecord {
  sceneId: string;
  /** Absolute path of the scene's PNG. */
  imagePath: string;
  question: string;
  answer: string;
  objects: ParsedObject[];
  marks: HallucinationMark[];
}

export interface ArmEvaluated {
  metrics: Metrics;
  rows: EvaluationRow[];
  outputs: OutputRecord[];
}

export interface DatasetInfo {
  dir: string;
  name: string;
  import: ImportResult;
}

/** Everything a driver may observe; all optional. The run store hangs off these. */
export interface StudyHooks {
  onProgress?: (e: ProgressEvent) => void;
  onLog?: (line: string) => void;
  onDataset?: (d: DatasetInfo) => void | Promise<void>;
  onRunStart?: (run: ArmRunInfo) => void | Promise<void>;
  onStep?: (run: ArmRunInfo, e: StepEvent) => void;
  /**
   * `adapterDir`: where a completed run's LoRA adapters were saved (PEFT layout), so a driver can
   * keep them with the run (the app then asks, evaluates and exports it like any other run).
   */
  onRunEnd?: (run: ArmRunInfo, r: { status: 'completed' | 'failed' | 'cancelled'; steps: number; error?: SerializedError; adapterDir?: string }) => void | Promise<void>;
  onEvaluated?: (run: ArmRunInfo, e: ArmEvaluated) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Times a phase and reports its progress with an ETA. */
export class PhaseClock {
  private readonly started = Date.now();
  constructor(
    readonly phase: Phase,
    private readonly hooks: StudyHooks,
    private total = 1,
  ) {
    this.emit(0, false);
  }
  tick(done: number, total = this.total, detail?: string): void {
    this.total = total;
    this.emit(done, false, detail);
  }
  end(detail?: string): number {
    return this.emit(this.total, true, detail);
  }
  private emit(done: number, finished: boolean, detail?: string): number {
    const elapsedMs = Date.now() - this.started;
    const etaMs = finished ? 0 : done > 0 ? (elapsedMs / done) * (this.total - done) : null;
    this.hooks.onProgress?.({ phase: this.phase, done, total: this.total, elapsedMs, etaMs, finished, detail });
    return elapsedMs / 1000;
  }
}

export interface HeldOutPair {
  sceneId: string;
  prompt: string;
  chosen: string;
}

export interface StudyContext {
  settings: StudySettings;
  backend: BackendInfo;
  tokenizer: WordTokenizer;
  imageSize: number;
  datasetDir: string;
  imported: ImportResult;
  buildSummary: { questions: number; kept: number; dropped: number; chosenHallucinations: number; rejectedHallucinations: number };
  evalScenes: Scene[];
  evalDir: string;
  stats: ObjectStats;
  heldOut: HeldOutPair[];
  /** Preference sources by negative strategy (built on first use). */
  sources: Map<string, DatasetPreferenceSource>;
}

export class StudyCancelled extends Error {
  override name = 'StudyCancelled';
  constructor() {
    super('Cancelled.');
  }
}

export function checkSignal(hooks: StudyHooks): void {
  if (hooks.signal?.aborted) throw new StudyCancelled();
}

export async function loadBase(dir: string): Promise<{ model: Vlm; tokenizer: WordTokenizer }> {
  const { model, tokenizer } = await loadCheckpoint(dir).catch((error: Error) => {
    throw new Error(`Cannot load the base model from ${dir}: ${error.message}`, { cause: error });
  });
  if (!tokenizer) throw new Error(`The base model ${dir} has no tokenizer.json.`);
  return { model, tokenizer };
}

