/**
 * The loop's configuration, with the paper's defaults (docs/objective.md#defaults). Field names follow src/shared's
 * TrainConfig where it has them, so the trainer process maps one onto the other directly.
 * The resolved config is saved with every checkpoint (nanoGPT style).
 */
import type { ObjectiveConfig } from '../objective/variants';
import { objectiveConfig, validateObjective } from '../objective/variants';
import type { ScheduleName } from './schedule';
import { SCHEDULE_NAMES } from './schedule';

export interface LoopConfig {
  /** The preference objective (ignored by SFT). */
  objective: ObjectiveConfig;
  /** Peak learning rate. docs/objective.md: 1e-5 for real models; the built-in model documents its own. */
  learningRate: number;
  schedule: ScheduleName;
  warmupRatio: number;
  epochs: number;
  /** Pairs (or SFT examples) per forward. */
  batchSize: number;
  /** Forwards per optimizer step (effective batch = batchSize * gradAccum). */
  gradAccum: number;
  /** Clip the global gradient norm to this; 0 = no clipping. */
  maxGradNorm: number;
  weightDecay: number;
  adamBeta1: number;
  adamBeta2: number;
  adamEps: number;
  seed: number;
  /** Shuffle the order each epoch (from (seed, epoch)); false = source order. */
  shuffle: boolean;
  /** m' fixed per pair (its reference log-prob cached for the run) or drawn anew each epoch. */
  negativeFixedPerPair: boolean;
  /** Stop after this many optimizer steps (the schedule spans them); null = epochs decide. */
  maxSteps: number | null;
  /** Where checkpoints go; null = no checkpoints. */
  checkpointDir: string | null;
  /** Optimizer steps between checkpoints (0 = only at the end and on abort). */
  checkpointEvery: number;
  /** Checkpoints kept on disk, newest first (0 = all). */
  keepCheckpoints: number;
}

export const DEFAULT_LOOP: Omit<LoopConfig, 'objective'> = {
  learningRate: 1e-5,
  schedule: 'cosine',
  warmupRatio: 0.1,
  epochs: 3,
  batchSize: 4,
  gradAccum: 8,
  maxGradNorm: 1,
  weightDecay: 0.05,
  adamBeta1: 0.9,
  adamBeta2: 0.98,
  adamEps: 1e-8,
  seed: 0,
  shuffle: true,
  negativeFixedPerPair: true,
  maxSteps: null,
  checkpointDir: null,
  checkpointEvery: 25,
  keepCheckpoints: 3,
};

export class LoopConfigError extends Error {
  override name = 'LoopConfigError';
}

/** Fills defaults and checks every field, with plain messages. */
export function resolveLoopConfig(partial: Partial<LoopConfig> = {}): LoopConfig {
  const c: LoopConfig = { ...DEFAULT_LOOP, objective: objectiveConfig('mdpo'), ...partial };
  validateObjective(c.objective);
  const positiveInt = (key: keyof LoopConfig) => {
    const v = c[key] as number;
    if (!Number.isInteger(v) || v <= 0) throw new LoopConfigError(`Expected ${key} to be a positive integer, but got ${v}`);
  };
  const inRange = (key: keyof LoopConfig, lo: number, hi: number, loOpen = false, hiOpen = false) => {
    const v = c[key] as number;
    const ok = Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi);
    if (!ok) throw new LoopConfigError(`Expected ${key} to be in ${loOpen ? '(' : '['}${lo}, ${hi}${hiOpen ? ')' : ']'}, but got ${v}`);
  };
  positiveInt('epochs');
  positiveInt('batchSize');
  positiveInt('gradAccum');
  inRange('learningRate', 0, 1, true);
  inRange('warmupRatio', 0, 1);
  inRange('maxGradNorm', 0, Infinity);
  inRange('weightDecay', 0, 1);
  inRange('adamBeta1', 0, 1, false, true);
  inRange('adamBeta2', 0, 1, false, true);
  inRange('adamEps', 0, 1, true);
  if (!Number.isInteger(c.seed)) throw new LoopConfigError(`Expected seed to be an integer, but got ${c.seed}`);
  if (!(SCHEDULE_NAMES as readonly string[]).includes(c.schedule)) {
    throw new LoopConfigError(`Unknown schedule "${c.schedule}". Expected one of: ${SCHEDULE_NAMES.join(', ')}.`);
  }
  if (c.maxSteps !== null) positiveInt('maxSteps');
  if (!Number.isInteger(c.checkpointEvery) || c.checkpointEvery < 0) {
    throw new LoopConfigError(`Expected checkpointEvery to be an integer >= 0, but got ${c.checkpointEvery}`);
  }
  if (!Number.isInteger(c.keepCheckpoints) || c.keepCheckpoints < 0) {
    throw new LoopConfigError(`Expected keepCheckpoints to be an integer >= 0, but got ${c.keepCheckpoints}`);
  }
  return c;
}

/** Fields that may differ between a run and its resumption (they do not change the numbers). */
export const RESUMABLE_CHANGES: readonly (keyof LoopConfig)[] = ['checkpointDir', 'checkpointEvery', 'keepCheckpoints'];

/** JSON with object keys sorted, so equal configs compare equal whatever their key order. */
function canonical(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'undefined';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
}

/** Names of the fields whose change would make a resumed run diverge from the original. */
export function incompatibleChanges(saved: LoopConfig, now: LoopConfig): string[] {
  const out: string[] = [];
  for (const key of Object.keys(now) as (keyof LoopConfig)[]) {
    if (RESUMABLE_CHANGES.includes(key)) continue;
    if (canonical(saved[key]) !== canonical(now[key])) out.push(key);
  }
  return out;
}
