/**
 * Shared by test/hf-golden*.test.ts: the committed goldens of test/fixtures/hf-golden (made by
 * python/golden/make_fixtures.py with transformers + PEFT), read back, and small comparisons.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readHeader, readTensor } from '../src/core/hf/weights';
import type { LoopConfig } from '../src/core/train/config';
import type { PreferenceSource } from '../src/core/train/types';
import { PYTHON, REPO_ROOT } from './python-env';

export const GOLDEN_ROOT = join(REPO_ROOT, 'test', 'fixtures', 'hf-golden');
export const FAMILIES = ['smolvlm', 'smolvlm2', 'llava-llama', 'llava-qwen2', 'onevision'] as const;
export type Family = (typeof FAMILIES)[number];

type Logps = { chosen: number; rejected: number; imageless: number };

/** golden.json as make_fixtures.py writes it. */
export interface GoldenJson {
  family: Family;
  versions: { torch: string; transformers: string; peft: string };
  question: string;
  chosen: string;
  rejected: string;
  prompt_text: string;
  prompt_ids: number[];
  prompt_attention_mask: number[];
  hf_processor_ids: number[] | null;
  chosen_ids: number[];
  rejected_ids: number[];
  logps_base: Logps;
  logps_ref: Logps;
  logps_policy: Logps;
  loss: number;
  grad_norm: number;
  settings: {
    lora: { r: number; lora_alpha: number; lora_dropout: number };
    target_modules: string;
    beta: number;
    delta: number;
    adamw: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
    max_grad_norm: number;
  };
  image_size: number;
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

export interface Golden {
  family: Family;
  dir: string;
  modelDir: string;
  adapterDir: string;
  json: GoldenJson;
  tensors: Map<string, Tensor>;
}

export async function readSafetensors(file: string): Promise<Map<string, Tensor>> {
  const out = new Map<string, Tensor>();
  for (const [name, e] of await readHeader(file)) out.set(name, { shape: e.shape, data: await readTensor(e) });
  return out;
}

export async function readGolden(family: Family, root = GOLDEN_ROOT): Promise<Golden> {
  const dir = join(root, family);
  const json = JSON.parse(await readFile(join(dir, 'golden.json'), 'utf8')) as GoldenJson;
  return { family, dir, modelDir: join(dir, 'model'), adapterDir: join(dir, 'adapter-init'), json, tensors: await readSafetensors(join(dir, 'golden.safetensors')) };
}

export function tensor(g: Golden, name: string): Tensor {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`${g.dir}/golden.safetensors has no tensor ${name}`);
  return t;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |a - b| / max |b|: the deviation relative to the reference tensor's scale. */
export function relDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < ref.length; i++) scale = Math.max(scale, Math.abs(ref[i]));
  return maxAbsDiff(a, ref) / (scale || 1);
}

/**
 * HF pixel_values (channels first, normalised; [..., 3, S, S]) -> [S, S, 3] in [0, 1] RGB,
 * what the app's sources hold (the loop normalises again with the model's mean/std).
 */
export function hwcFromPixelValues(t: Tensor, mean: readonly number[], std: readonly number[]): Float32Array {
  const S = t.shape[t.shape.length - 1];
  if (t.shape[t.shape.length - 2] !== S || t.shape[t.shape.length - 3] !== 3 || t.data.length !== 3 * S * S) {
    throw new Error(`Expected pixel_values of one image [.., 3, S, S], but got [${t.shape}]`);
  }
  const out = new Float32Array(S * S * 3);
  for (let c = 0; c < 3; c++) for (let i = 0; i < S * S; i++) out[i * 3 + c] = t.data[c * S * S + i] * std[c] + mean[c];
  return out;
}

/**
 * The golden's one preference pair as a training source: m and m' are transformers' own
 * pixel_values (undone to HWC with the model's mean/std); m' is the golden's, whatever the loop asks.
 */
export function goldenPairSource(g: Golden, image: { mean: readonly number[]; std: readonly number[] }): PreferenceSource {
  const S = g.json.image_size;
  const m = hwcFromPixelValues(tensor(g, 'pixel_values'), image.mean, image.std);
  const negative = hwcFromPixelValues(tensor(g, 'pixel_values_neg'), image.mean, image.std);
  return {
    size: 1,
    imageShape: [S, S],
    example: () => ({ id: 'golden', image: m, promptIds: g.json.prompt_ids, chosenIds: g.json.chosen_ids, rejectedIds: g.json.rejected_ids }),
    negative: () => negative,
  };
}

/** The loop as the golden's steps were made: constant lr, the fixture's AdamW and clipping, one pair per step, in order. */
export function goldenLoopConfig(g: Golden, objective: LoopConfig['objective'], steps: number): Partial<LoopConfig> {
  const s = g.json.settings;
  return {
    objective,
    learningRate: s.adamw.lr, schedule: 'constant', warmupRatio: 0, maxGradNorm: s.max_grad_norm,
    weightDecay: s.adamw.weight_decay, adamBeta1: s.adamw.betas[0], adamBeta2: s.adamw.betas[1], adamEps: s.adamw.eps,
    batchSize: 1, gradAccum: 1, epochs: steps, maxSteps: steps, shuffle: false, negativeFixedPerPair: true, checkpointDir: null,
  };
}

/** HF pixel_values -> the model's normalised [S, S, 3] input, values unchanged (a transpose). */
export function hwcNormalised(t: Tensor): Float32Array {
  const S = t.shape[t.shape.length - 1];
  const out = new Float32Array(S * S * 3);
  for (let c = 0; c < 3; c++) for (let i = 0; i < S * S; i++) out[i * 3 + c] = t.data[c * S * S + i];
  return out;
}

const run = promisify(execFile);

/** Runs a script of python/golden with the project's interpreter; returns stdout. */
export async function runPython(script: string, args: string[], timeoutMs = 300_000): Promise<string> {
  if (!PYTHON) throw new Error('no Python environment (run `npm run setup:python`)');
  const { stdout } = await run(PYTHON, [join(REPO_ROOT, 'python', 'golden', script), ...args], {
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', OMP_NUM_THREADS: '1' },
  });
  return stdout;
}
