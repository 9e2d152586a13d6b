/**
 * The preference objective on the real (tiny) model: the reference cache against recomputing,
 * and a finite-difference check of the whole mDPO loss w.r.t. LoRA parameters.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { objectiveConfig } from '../objective/variants';
import { Rng } from '../rng';
import type { LoopConfig } from './config';
import { resolveLoopConfig } from './config';
import { trainPreference } from './loop';
import { PreferenceTask } from './preference-task';
import { TinyPreferenceSource, tinyModel } from './test-fixtures';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Moves the policy away from the reference: LoRA B (zero at init) gets seeded values. */
function perturbAdapters(vars: tf.Variable[], seed: number, scale: number): void {
  const rng = new Rng(seed);
  tf.tidy(() => {
    for (const v of vars) {
      const values = Float32Array.from({ length: v.size }, () => rng.normal() * scale);
      v.assign(tf.add(v, tf.tensor(values, v.shape)));
    }
  });
}

async function lossOf(task: PreferenceTask, indices: number[], epoch = 0): Promise<number> {
  task.beginStep(indices);
  const mb = await task.microBatch(indices, epoch);
  try {
    return tf.tidy(() => mb.loss().dataSync()[0]);
  } finally {
    mb.dispose();
  }
}

describe('reference log-prob cache', () => {
  for (const negativeFixedPerPair of [true, false]) {
    it(`gives the same loss as recomputing (m' ${negativeFixedPerPair ? 'fixed per pair' : 'per epoch'})`, async () => {
      const model = tinyModel();
      const source = new TinyPreferenceSource(6);
      const cfg: LoopConfig = resolveLoopConfig({ seed: 2, negativeFixedPerPair });
      const cached = new PreferenceTask(model, source, cfg);
      // Fill the cache in one batch composition ...
      await lossOf(cached, [0, 1, 2]);
      await lossOf(cached, [3, 4, 5]);
      expect(cached.cache.size).toBe(negativeFixedPerPair ? 18 : 12); // chosen, rejected (, m') per pair
      // ... then train the adapters a little, so the policy is no longer the reference.
      perturbAdapters(model.trainableVariables(), 5, 0.05);
      const before = cached.cache.hits;
      const withCache = await lossOf(cached, [4, 1]);
      expect(cached.cache.hits - before).toBe(negativeFixedPerPair ? 6 : 4);
      const fresh = new PreferenceTask(model, source, cfg);
      const recomputed = await lossOf(fresh, [4, 1]);
      expect(fresh.cache.hits).toBe(0);
      expect(Math.abs(withCache - recomputed)).toBeLessThan(1e-6);
      expect(Math.abs(withCache - 3 * Math.log(2))).toBeGreaterThan(1e-3); // policy != reference now
      model.dispose();
    });
  }

  it('m\' is the same array for a pair across calls when fixed, and changes per epoch otherwise', () => {
    const model = tinyModel();
    const source = new TinyPreferenceSource(2);
    const fixed = new PreferenceTask(model, source, resolveLoopConfig({ seed: 1, negativeFixedPerPair: true }));
    const perEpoch = new PreferenceTask(model, source, resolveLoopConfig({ seed: 1, negativeFixedPerPair: false }));
    const e = source.example(0);
    expect(fixed.negative(0, e, 0)).toEqual(fixed.negative(0, e, 3));
    expect(perEpoch.negative(0, e, 1)).toEqual(perEpoch.negative(0, e, 1));
    expect(perEpoch.negative(0, e, 1)).not.toEqual(perEpoch.negative(0, e, 2));
    expect(fixed.negative(0, e, 0)).not.toEqual(e.image);
    model.dispose();
  });
});

describe('m\' == m on the real model', () => {
  it('keeps the conditional term at exactly log 2 while training moves the others', async () => {
    const model = tinyModel();
    const source = new TinyPreferenceSource(8);
    source.negative = (i) => source.pairs[i].image.slice(); // m' = m
    const steps: Record<string, number>[] = [];
    await trainPreference(model, source, { batchSize: 4, gradAccum: 1, maxSteps: 6, learningRate: 2e-2, warmupRatio: 0, seed: 1 }, {
      onStep: (e) => steps.push(e.metrics),
    });
    for (const m of steps) {
      expect(Math.abs(m['loss/conditional'] - Math.log(2))).toBeLessThan(1e-7);
      expect(m['rewards/imageless_margins']).toBe(0);
    }
    expect(Math.abs(steps[5]['loss/dpo'] - Math.log(2))).toBeGreaterThan(1e-3);
    expect(Math.abs(steps[5]['rewards/chosen'])).toBeGreaterThan(1e-4);
    model.dispose();
  });
});

describe('finite differences of the whole mDPO loss w.r.t. LoRA parameters', () => {
  it('match tf.variableGrads', async () => {
    const model = tinyModel();
    const vars = model.trainableVariables();
    perturbAdapters(vars, 9, 0.3); // B != 0, so A has a gradient too
    const objective = objectiveConfig('mdpo', { beta: 1, anchor: 'chosen+rejected+imageless' });
    const task = new PreferenceTask(model, new TinyPreferenceSource(4), resolveLoopConfig({ seed: 4, objective }));
    const indices = [0, 1, 2, 3];
    await lossOf(task, indices); // fills the reference cache: the reference is a constant from here on
    task.beginStep(indices);
    const mb = await task.microBatch(indices, 0);
    const { value, grads } = tf.variableGrads(() => mb.loss(), vars);
    value.dispose();
    const loss = () => tf.tidy(() => mb.loss().dataSync()[0]);
    const h = 1e-3; // float32: small enough for the curvature, large enough for rounding
    let checked = 0;
    // The first A and B (layer 0, q_proj) and the last B: the 3 entries with the largest gradient each.
    for (const v of [vars[0], vars[1], vars[vars.length - 1]]) {
      const g = grads[v.name].dataSync();
      const top = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a])).slice(0, 3);
      for (const j of top) {
        const original = v.dataSync().slice();
        const at = (e: number) => {
          const moved = original.slice();
          moved[j] += e;
          tf.tidy(() => v.assign(tf.tensor(moved, v.shape)));
          return loss();
        };
        const fd = (at(h) - at(-h)) / (2 * h);
        tf.tidy(() => v.assign(tf.tensor(original, v.shape)));
        expect(Math.abs(g[j])).toBeGreaterThan(1e-3);
        expect(Math.abs(fd - g[j])).toBeLessThan(1e-3 + 0.01 * Math.abs(g[j]));
        checked += 1;
      }
    }
    expect(checked).toBe(9);
    tf.dispose(Object.values(grads));
    mb.dispose();
    model.dispose();
  });
});
