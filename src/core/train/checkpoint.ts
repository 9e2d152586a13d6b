/**
 * Training checkpoints: one folder per checkpoint inside the run's checkpoint directory.
 *
 *   <dir>/checkpoint-000120/
 *     trainable.safetensors   the trainable variables (LoRA adapters, or every weight for SFT)
 *     optimizer.safetensors   AdamW's m and v: "<name>.exp_avg", "<name>.exp_avg_sq"
 *     state.json              step, epoch, position in the epoch's order, Rng state, the
 *                             resolved config, the input fingerprints (fingerprint.ts), the
 *                             reference log-prob cache (scoped by them), last metrics
 *   <dir>/latest.json         {"checkpoint": "checkpoint-000120", "step": 120}
 *
 * Written atomically: the folder is filled under a temporary name, each file synced, then
 * renamed into place; latest.json is replaced by rename too. A crash at any moment leaves
 * the previous checkpoint and latest.json intact.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { RngState } from '../rng';
import type { InputFingerprints } from './fingerprint';
import type { AdamWState } from './optimizer';
import type { SavedRefCache } from './ref-cache';
import type { NamedArray } from './tensor-file';
import { encodeTensors, readTensorFile } from './tensor-file';

export const STATE_FORMAT = 'mdpo-studio/train-state';
/** 2: `inputs` (fingerprint.ts) and a scoped reference cache. */
export const STATE_VERSION = 2;

export interface TrainState {
  format: typeof STATE_FORMAT;
  version: number;
  kind: 'preference' | 'sft';
  /** Optimizer steps completed. */
  step: number;
  /** The epoch of the next example to consume (0-based). */
  epoch: number;
  /** Index into that epoch's shuffled order of the next example. */
  position: number;
  /** The loop's generator (dropout masks); orders and m' come from (seed, epoch, pair). */
  rng: RngState;
  /** The resolved loop configuration this run was started with. */
  config: unknown;
  /** Stable names of the trainable variables, in order. */
  variableNames: string[];
  /**
   * Fingerprints of what the run was computed from (fingerprint.ts, schema
   * "mdpo-studio/inputs@1"); null for SFT, absent in version-1 checkpoints.
   */
  inputs: InputFingerprints | null;
  /** Reference log-probs computed so far (keys and scope from ref-cache.ts). */
  refCache: SavedRefCache | null;
  /** The metrics of the step that produced this checkpoint. */
  metrics: Record<string, number> | null;
  savedAt: string;
}

export interface CheckpointContent {
  state: TrainState;
  /** name -> values, in variableNames order. */
  weights: Record<string, NamedArray>;
  optimizer: AdamWState;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function checkpointFolderName(step: number): string {
  return `checkpoint-${String(step).padStart(6, '0')}`;
}

async function writeFileSynced(file: string, data: Uint8Array | string): Promise<void> {
  const handle = await fs.open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `file` via a temporary sibling and a rename. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
  await writeFileSynced(tmp, data);
  await fs.rename(tmp, file);
}

/** Saves a checkpoint; returns its folder. Keeps the newest `keepLast` checkpoints (0 = all). */
export async function saveCheckpoint(dir: string, content: CheckpointContent, keepLast = 3): Promise<string> {
  const { state, weights, optimizer } = content;
  await fs.mkdir(dir, { recursive: true });
  const name = checkpointFolderName(state.step);
  const final = path.join(dir, name);
  const tmp = path.join(dir, `${name}.tmp-${process.pid}-${Date.now()}`);
  await fs.mkdir(tmp);
  const moments: Record<string, NamedArray> = {};
  state.variableNames.forEach((v, i) => {
    const shape = weights[v].shape;
    moments[`${v}.exp_avg`] = { shape, data: optimizer.m[i] };
    moments[`${v}.exp_avg_sq`] = { shape, data: optimizer.v[i] };
  });
  await writeFileSynced(path.join(tmp, 'trainable.safetensors'), encodeTensors(weights, { format: 'pt' }));
  await writeFileSynced(
    path.join(tmp, 'optimizer.safetensors'),
    encodeTensors(moments, { step: String(optimizer.step) }),
  );
  await writeFileSynced(path.join(tmp, 'state.json'), JSON.stringify({ ...state, optimizerStep: optimizer.step }, null, 1));
  // A checkpoint of the same step may exist (a resumed run re-saving): move it aside first,
  // since rename() does not replace a non-empty folder.
  const stale = `${final}.old-${process.pid}-${Date.now()}`;
  const existed = await fs.rename(final, stale).then(() => true, () => false);
  await fs.rename(tmp, final);
  if (existed) await fs.rm(stale, { recursive: true, force: true });
  await writeFileAtomic(path.join(dir, 'latest.json'), JSON.stringify({ checkpoint: name, step: state.step }));
  if (keepLast > 0) await prune(dir, keepLast, name);
  return final;
}

async function prune(dir: string, keepLast: number, latest: string): Promise<void> {
  const entries = (await fs.readdir(dir)).filter((e) => /^checkpoint-\d+$/.test(e)).sort();
  const old = entries.filter((e) => e !== latest).slice(0, Math.max(0, entries.length - keepLast));
  for (const e of old) await fs.rm(path.join(dir, e), { recursive: true, force: true });
}

/** The newest complete checkpoint folder in `dir`, or null when there is none. */
export async function latestCheckpoint(dir: string): Promise<string | null> {
  try {
    const { checkpoint } = JSON.parse(await fs.readFile(path.join(dir, 'latest.json'), 'utf8')) as { checkpoint: string };
    return path.join(dir, checkpoint);
  } catch {
    return null;
  }
}

/** Loads a checkpoint folder, or the latest checkpoint of a checkpoint directory. */
export async function loadCheckpoint(folderOrDir: string): Promise<CheckpointContent> {
  let folder = folderOrDir;
  const hasState = await fs.stat(path.join(folder, 'state.json')).then(() => true, () => false);
  if (!hasState) {
    const latest = await latestCheckpoint(folderOrDir);
    if (!latest) throw new CheckpointError(`No checkpoint in ${folderOrDir}: neither state.json nor latest.json is there`);
    folder = latest;
  }
  const raw = JSON.parse(await fs.readFile(path.join(folder, 'state.json'), 'utf8')) as TrainState & { optimizerStep: number };
  if (raw.format !== STATE_FORMAT) throw new CheckpointError(`${folder}/state.json is not a training state (format ${String(raw.format)})`);
  if (raw.version > STATE_VERSION) {
    throw new CheckpointError(`${folder} was written by a newer version (state version ${raw.version} > ${STATE_VERSION})`);
  }
  const weights = await readTensorFile(path.join(folder, 'trainable.safetensors'));
  const moments = await readTensorFile(path.join(folder, 'optimizer.safetensors'));
  const pick = (key: string) => {
    const t = moments[key];
    if (!t) throw new CheckpointError(`${folder}/optimizer.safetensors lacks ${key}`);
    return t.data;
  };
  for (const v of raw.variableNames) {
    if (!weights[v]) throw new CheckpointError(`${folder}/trainable.safetensors lacks ${v}`);
  }
  const { optimizerStep, ...state } = raw;
  return {
    state,
    weights,
    optimizer: {
      step: optimizerStep,
      m: raw.variableNames.map((v) => pick(`${v}.exp_avg`)),
      v: raw.variableNames.map((v) => pick(`${v}.exp_avg_sq`)),
    },
  };
}
