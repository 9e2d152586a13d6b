import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, PYTHON_SKIP_REASON, REPO_ROOT, describeWithPython } from '../../../test/python-env';
import { initBackend } from '../backend';
import { AdamW, DEFAULT_ADAMW } from './optimizer';
import { learningRateAt, warmupSteps } from './schedule';

beforeAll(async () => {
  await initBackend('cpu');
});

/**
 * torch.optim.AdamW's own numbers (float32 and float64), made by python/reference/adamw.py:
 * five steps with per-step learning rates on a decayed 2x2 matrix and an undecayed 4-vector.
 */
interface TorchRun {
  steps: { weight: number[]; bias: number[] }[];
  state: Record<'weight' | 'bias', { exp_avg: number[]; exp_avg_sq: number[] }>;
}
interface TorchAdamW {
  generator: string;
  torch: string;
  config: { betas: [number, number]; eps: number; weight_decay: number; foreach: boolean };
  p0: number[];
  grads: number[][];
  lrs: number[];
  float32: TorchRun;
  float64: TorchRun;
}
const FIXTURE = path.join(REPO_ROOT, 'test', 'fixtures', 'torch-adamw.json');
const SCRIPT = path.join(REPO_ROOT, 'python', 'reference', 'adamw.py');
const TORCH = JSON.parse(readFileSync(FIXTURE, 'utf8')) as TorchAdamW;

const P0 = [0.5, -1, 2, 0.25];
const G = [
  [0.1, -0.2, 0.3, 0],
  [0.4, 0.1, -0.5, 0.2],
  [-0.3, 0.2, 0.1, -0.1],
  [0.05, -0.05, 0.2, 0.3],
  [0.2, 0.2, -0.2, -0.2],
];
const LRS = [0.01, 0.02, 0.015, 0.01, 0.005];

function run(opt: AdamW, from: number, to: number): void {
  for (let s = from; s < to; s++) {
    const g = tf.tensor2d(G[s], [2, 2]);
    opt.apply([g], LRS[s]);
    g.dispose();
  }
}

describe('AdamW', () => {
  it('defaults are docs/objective.md\'s', () => {
    expect(DEFAULT_ADAMW).toEqual({ beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.05 });
  });

  it('first step by hand: θ(1 - lr λ) - lr sign(g) (m̂ = g, v̂ = g²)', () => {
    const p = tf.variable(tf.tensor2d([1, -2, 3, 4], [2, 2]));
    const opt = new AdamW([p]);
    const g = tf.tensor2d([0.5, 0.5, -2, 1e-3], [2, 2]);
    opt.apply([g], 0.1);
    const got = Array.from(p.dataSync());
    // 1*(1 - 0.005) - 0.1 = 0.895; -2*0.995 - 0.1 = -2.09; 3*0.995 + 0.1 = 3.085; 4*0.995 - 0.1*1e-3/(1e-3+1e-8)
    expect(got[0]).toBeCloseTo(0.895, 6);
    expect(got[1]).toBeCloseTo(-2.09, 6);
    expect(got[2]).toBeCloseTo(3.085, 6);
    expect(got[3]).toBeCloseTo(3.98 - 0.1 / (1 + 1e-5), 5);
    tf.dispose([p, g]);
    opt.dispose();
  });

  it("matches torch.optim.AdamW's numbers step by step (float32 to 1e-6, float64 to 2e-6), state included", async () => {
    // The fixture was made with this file's inputs and the defaults of docs/objective.md.
    expect(TORCH.p0).toEqual(P0);
    expect(TORCH.grads).toEqual(G);
    expect(TORCH.lrs).toEqual(LRS);
    expect(TORCH.config).toEqual({ betas: [DEFAULT_ADAMW.beta1, DEFAULT_ADAMW.beta2], eps: DEFAULT_ADAMW.eps, weight_decay: DEFAULT_ADAMW.weightDecay, foreach: false });
    const w = tf.variable(tf.tensor2d(P0, [2, 2]));
    const bias = tf.variable(tf.tensor1d(P0));
    const opt = new AdamW([w, bias]); // decay on the matrix only (rank >= 2)
    let worst32 = 0;
    let worst64 = 0;
    for (let s = 0; s < 5; s++) {
      const g = tf.tensor2d(G[s], [2, 2]);
      const gb = tf.tensor1d(G[s]);
      opt.apply([g, gb], LRS[s]);
      tf.dispose([g, gb]);
      const got = { weight: Array.from(w.dataSync()), bias: Array.from(bias.dataSync()) };
      for (const name of ['weight', 'bias'] as const) {
        got[name].forEach((x, i) => {
          worst32 = Math.max(worst32, Math.abs(x - TORCH.float32.steps[s][name][i]));
          worst64 = Math.max(worst64, Math.abs(x - TORCH.float64.steps[s][name][i]));
        });
      }
    }
    expect(worst32).toBeLessThan(1e-6);
    expect(worst64).toBeLessThan(2e-6);
    // The decay shows: the decayed matrix and the undecayed vector part ways by more than that.
    expect(Math.abs(TORCH.float64.steps[4].weight[2] - TORCH.float64.steps[4].bias[2])).toBeGreaterThan(1e-4);
    const state = await opt.exportState();
    expect(state.step).toBe(5);
    (['weight', 'bias'] as const).forEach((name, k) => {
      Array.from(state.m[k]).forEach((x, i) => expect(Math.abs(x - TORCH.float32.state[name].exp_avg[i])).toBeLessThan(1e-7));
      Array.from(state.v[k]).forEach((x, i) => expect(Math.abs(x - TORCH.float32.state[name].exp_avg_sq[i])).toBeLessThan(1e-8));
    });
    tf.dispose([w, bias]);
    opt.dispose();
  });

  it('exported state resumes exactly, and leaks no tensors', async () => {
    const a = tf.variable(tf.tensor2d(P0, [2, 2]));
    const optA = new AdamW([a]);
    const before = tf.memory().numTensors;
    run(optA, 0, 5);
    expect(tf.memory().numTensors).toBe(before);

    const b = tf.variable(tf.tensor2d(P0, [2, 2]));
    const optB = new AdamW([b]);
    run(optB, 0, 2);
    const state = await optB.exportState();
    const saved = Array.from(b.dataSync());
    optB.dispose();
    const c = tf.variable(tf.tensor2d(saved, [2, 2]));
    const optC = new AdamW([c]);
    optC.importState({ step: state.step, m: state.m.map((x) => x.slice()), v: state.v.map((x) => x.slice()) });
    expect(optC.step).toBe(2);
    run(optC, 2, 5);
    expect(Array.from(c.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(() => optC.importState({ step: 1, m: [], v: [] })).toThrow(/0 m tensors, but the model has 1/);
    tf.dispose([a, b, c]);
    optA.dispose();
    optC.dispose();
  });
});

describeWithPython(`the torch reference numbers${PYTHON_SKIP_REASON}`, () => {
  it('test/fixtures/torch-adamw.json is what python/reference/adamw.py makes', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'torch-adamw-'));
    try {
      const out = path.join(dir, 'adamw.json');
      execFileSync(PYTHON!, [SCRIPT, '--out', out], { stdio: 'pipe', timeout: 120_000 });
      const made = JSON.parse(readFileSync(out, 'utf8')) as TorchAdamW;
      const { torch: madeWith, ...numbers } = made;
      const { torch: committedWith, ...committed } = TORCH;
      expect(madeWith).toMatch(/^\d+\.\d+/);
      expect(committedWith).toMatch(/^\d+\.\d+/);
      expect(numbers).toEqual(committed);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('schedules (HF transformers)', () => {
  const base = { lr: 1, warmupRatio: 0.1, totalSteps: 20 };
  it('warm-up is ceil(0.1 * total), linear from 0', () => {
    expect(warmupSteps(20, 0.1)).toBe(2);
    expect(warmupSteps(25, 0.1)).toBe(3);
    expect(learningRateAt(0, { ...base, schedule: 'cosine' })).toBe(0);
    expect(learningRateAt(1, { ...base, schedule: 'cosine' })).toBe(0.5);
    expect(learningRateAt(2, { ...base, schedule: 'cosine' })).toBe(1);
  });
  it('cosine, linear and constant after warm-up', () => {
    // step 11: progress (11 - 2) / 18 = 0.5
    expect(learningRateAt(11, { ...base, schedule: 'cosine' })).toBeCloseTo(0.5, 12);
    expect(learningRateAt(5, { ...base, schedule: 'cosine' })).toBeCloseTo(0.5 * (1 + Math.cos(Math.PI / 6)), 12);
    expect(learningRateAt(11, { ...base, schedule: 'linear' })).toBeCloseTo(0.5, 12);
    expect(learningRateAt(11, { ...base, schedule: 'constant' })).toBe(1);
    expect(learningRateAt(20, { ...base, schedule: 'cosine' })).toBeCloseTo(0, 12);
    expect(learningRateAt(0, { ...base, warmupRatio: 0, schedule: 'constant' })).toBe(1);
  });
});
