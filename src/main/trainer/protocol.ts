/**
 * The trainer protocol: typed messages between the process that owns a run (Electron main,
 * the browser-mode server or the CLI: "the parent") and the trainer process ("the child").
 * Discriminated unions on `type`; every message carries `seq`, counted per direction from 1,
 * so either side can tell a lost or reordered message. Errors travel as {name, message, stack}.
 *
 * Lifecycle: child -> ready; parent -> start; child -> started, then per optimizer step
 * metrics + progress, checkpoint after each checkpoint is on disk; exactly one terminal
 * message (done | cancelled | failed), then the child exits. pause/resume/cancel may arrive
 * at any time; paused/resumed answer them with `re` = the command's seq.
 *
 * The child never touches the database: the parent is the single writer (docs/architecture.md#processes).
 */
import type { EvaluationRow, HallucinationMark, ParsedObject, RunProgress, SerializedError } from '../../shared/api';
import type { TrainConfig } from '../../shared/schemas';
import type { ImageRef as CoreImageRef } from '../../core/data/types';

export interface TrainJob {
  runId: number;
  config: TrainConfig;
  /** Folder for this run's checkpoints and artefacts. */
  runDir: string;
  /** The data folder (datasets' cached tensors, the built-in world's files). */
  home: string;
  /** The imported dataset: its root and the valid records saved at import (PreferenceRecord[] JSON). */
  dataset: { root: string; format: string; recordsFile: string } | null;
  /** The app's install folder (the shipped base model lives in resources/). */
  appRoot: string;
  /** Continue from this checkpoint (a resumed run); null for a fresh start. */
  resumeFrom: { step: number; path: string } | null;
  /** What to do: train (default), or evaluate the finished run on held-out world scenes. */
  task?:
    | { kind: 'train' }
    | { kind: 'evaluate'; scenes: number; seed: number }
    /** The built-in demo (src/core/demo): pairs, dpo + mdpo, evaluation; results in outDir. */
    | { kind: 'demo'; preset: 'quick' | 'full'; baseDir: string; outDir: string }
    /** One greedy answer of the run's model (base + adapters) about one image. */
    | { kind: 'ask'; image: CoreImageRef; question: string; maxTokens: number }
    /** Answers to probe items by one model (./answers.ts): base folder + optional adapter folder. */
    | {
        kind: 'answers';
        baseDir: string;
        adapterDir: string | null;
        settings: { maxTokens: number; temperature: number; seed: number };
        items: { itemId: number; key: string; image: CoreImageRef; question: string }[];
      };
}

/** One generated answer of an evaluation, with its image written to `imagePath`. */
export interface EvaluationOutput {
  imagePath: string;
  question: string;
  answer: string;
  objects: ParsedObject[];
  marks: HallucinationMark[] | null;
}

/** The StudyHooks callbacks the parent records in the store (src/main/demo-store.ts). */
export const DEMO_HOOKS = ['onDataset', 'onRunStart', 'onStep', 'onRunEnd', 'onEvaluated'] as const;
export type DemoHookName = (typeof DEMO_HOOKS)[number];

export type ParentMessage =
  | { seq: number; type: 'start'; job: TrainJob }
  | { seq: number; type: 'pause' }
  | { seq: number; type: 'resume' }
  | { seq: number; type: 'cancel' };

export type ChildMessage =
  | { seq: number; type: 'ready'; pid: number }
  | { seq: number; type: 'started'; runId: number; totalSteps: number; backend: string; startStep: number }
  | { seq: number; type: 'metrics'; runId: number; step: number; values: Record<string, number | null> }
  | ({ seq: number; type: 'progress'; runId: number } & RunProgress)
  | { seq: number; type: 'checkpoint'; runId: number; step: number; path: string }
  | { seq: number; type: 'paused'; runId: number; step: number; re: number }
  | { seq: number; type: 'resumed'; runId: number; step: number; re: number }
  | { seq: number; type: 'log'; level: 'info' | 'warn'; message: string }
  | { seq: number; type: 'evalProgress'; runId: number; done: number; total: number }
  | { seq: number; type: 'evaluation'; runId: number; rows: EvaluationRow[]; outputs: EvaluationOutput[] }
  /** One callback of src/core/demo's StudyHooks, relayed with its (plain data) arguments. */
  | { seq: number; type: 'demoHook'; hook: DemoHookName; args: unknown[] }
  | { seq: number; type: 'demoProgress'; stage: string; message: string; fraction: number | null }
  | { seq: number; type: 'answer'; runId: number; answer: string }
  /** One probe item answered (answers task). */
  | { seq: number; type: 'itemAnswer'; runId: number; itemId: number; answer: string }
  | { seq: number; type: 'done'; runId: number; step: number; result: Record<string, number> }
  | { seq: number; type: 'cancelled'; runId: number; step: number }
  | { seq: number; type: 'failed'; runId: number | null; error: SerializedError }
  /** Last message: the child exits with `code` right after. */
  | { seq: number; type: 'exit'; code: number };

export type Unsequenced<M> = M extends unknown ? Omit<M, 'seq'> : never;

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

/** Gives outgoing messages consecutive sequence numbers; checks incoming ones. */
export class Sequencer<Out extends { seq: number }> {
  private nextOut = 1;
  private lastIn = 0;
  constructor(private readonly onGap: (expected: number, got: number) => void = () => {}) {}

  stamp(message: Unsequenced<Out>): Out {
    return { ...message, seq: this.nextOut++ } as unknown as Out;
  }

  /** Returns false (and reports) when a message arrives out of order. */
  accept(message: { seq: number }): boolean {
    const expected = this.lastIn + 1;
    if (message.seq !== expected) {
      this.onGap(expected, message.seq);
      if (message.seq <= this.lastIn) return false;
    }
    this.lastIn = message.seq;
    return true;
  }
}

const PARENT_TYPES = new Set(['start', 'pause', 'resume', 'cancel']);

export function isParentMessage(value: unknown): value is ParentMessage {
  const v = value as { seq?: unknown; type?: unknown } | null;
  return !!v && typeof v.seq === 'number' && typeof v.type === 'string' && PARENT_TYPES.has(v.type);
}

export function isChildMessage(value: unknown): value is ChildMessage {
  const v = value as { seq?: unknown; type?: unknown } | null;
  return !!v && typeof v.seq === 'number' && typeof v.type === 'string';
}

/**
 * What the child's training engine does: runs a job to the end (or until the signal aborts),
 * calling the hooks as it goes. The real engine adapts src/core/train; tests may point
 * MDPO_TRAINER_ENGINE at another module exporting `engine`.
 */
export interface EngineHooks {
  signal: AbortSignal;
  /** Resolves at once unless paused; the engine awaits it between optimizer steps. */
  waitIfPaused(step: number): Promise<void>;
  started(info: { totalSteps: number; backend: string; startStep: number }): void;
  step(info: {
    step: number;
    totalSteps: number;
    epoch: number;
    metrics: Record<string, number>;
    /** Pairs and tokens processed in this step (for throughput), or the engine's own rates. */
    pairs: number;
    tokens: number;
    pairsPerSec?: number;
    tokensPerSec?: number;
  }): void;
  checkpoint(step: number, path: string): void;
  log(message: string): void;
  evalProgress(done: number, total: number): void;
  evaluation(rows: EvaluationRow[], outputs: EvaluationOutput[]): void;
  demoHook(hook: DemoHookName, args: unknown[]): void;
  demoProgress(stage: string, message: string, fraction: number | null): void;
  answer(text: string): void;
  itemAnswer(itemId: number, text: string): void;
}

export interface EngineResult {
  step: number;
  /** Final numbers (e.g. final loss) for the run's record. */
  result: Record<string, number>;
}

export type Engine = (job: TrainJob, hooks: EngineHooks) => Promise<EngineResult>;

/** Thrown by engines when the signal aborts (cancel). */
export class CancelledError extends Error {
  override name = 'CancelledError';
}
