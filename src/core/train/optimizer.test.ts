import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { AdamW, DEFAULT_ADAMW } from './optimizer';
import { learningRateAt, warmupSteps } from './schedule';

beforeAll(async () => {
  await initBackend('cpu');
});

/** PyTorch's AdamW in float64, for comparison. */
function referenceAdamW(p: number[], grads: number[][], lrs: number[], wd: number, b1 = 0.9, b2 = 0.98, eps = 1e-8): number[] {
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const x = [...p];
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < x.length; i++) {
      x[i] *= 1 - lrs[s] * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      x[i] -= (lrs[s] / (1 - b1 ** t)) * (m[i] / denom);
    }
  });
  return x;
}

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

  it('matches PyTorch\'s AdamW (float64) over 5 steps, with decay on matrices only', () => {
    const w = tf.variable(tf.tensor2d(P0, [2, 2]));
    const bias = tf.variable(tf.tensor1d(P0));
    const opt = new AdamW([w, bias]);
    for (let s = 0; s < 5; s++) {
      const g = tf.tensor2d(G[s], [2, 2]);
      const gb = tf.tensor1d(G[s]);
      opt.apply([g, gb], LRS[s]);
      tf.dispose([g, gb]);
    }
    const wantW = referenceAdamW(P0, G, LRS, 0.05);
    const wantB = referenceAdamW(P0, G, LRS, 0); // rank 1: no decay
    Array.from(w.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(wantW[i], 6));
    Array.from(bias.dataSync()).forEach((x, i) => expect(x).toBeCloseTo(wantB[i], 6));
    expect(wantW[0]).not.toBeCloseTo(wantB[0], 6);
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
