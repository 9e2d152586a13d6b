import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { GradAccumulator, clipByGlobalNorm, firstNonFinite, globalNorm } from './gradients';

beforeAll(async () => {
  await initBackend('cpu');
});

describe('gradient bookkeeping', () => {
  it('global norm, clipping (PyTorch coefficient) and no-op below the limit', async () => {
    const before = tf.memory().numTensors;
    const g = [tf.tensor1d([3, 4]), tf.tensor2d([[12]])];
    const norm = await globalNorm(g);
    expect(norm).toBeCloseTo(13, 6);
    const same = clipByGlobalNorm(g, norm, 20);
    expect(same).toBe(g);
    const clipped = clipByGlobalNorm(g, norm, 6.5);
    const coef = 6.5 / (13 + 1e-6);
    expect(Array.from(clipped[0].dataSync())[1]).toBeCloseTo(4 * coef, 6);
    expect(await globalNorm(clipped)).toBeCloseTo(6.5, 5);
    tf.dispose(clipped);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('accumulates micro-batch gradients by summing', () => {
    const acc = new GradAccumulator();
    acc.add([tf.tensor1d([1, 2]), tf.scalar(1)]);
    acc.add([tf.tensor1d([10, 20]), tf.scalar(2)]);
    acc.add([tf.tensor1d([100, 200]), tf.scalar(3)]);
    const sums = acc.take();
    expect(Array.from(sums[0].dataSync())).toEqual([111, 222]);
    expect(sums[1].dataSync()[0]).toBe(6);
    tf.dispose(sums);
    expect(() => acc.take()).toThrow(/No gradients/);
  });

  it('finds the first tensor holding NaN or Inf', async () => {
    const g = [tf.tensor1d([1, 2]), tf.tensor1d([0, Infinity]), tf.tensor1d([NaN])];
    expect(await firstNonFinite(g)).toBe(1);
    expect(await firstNonFinite([g[0]])).toBe(-1);
    expect(Number.isFinite(await globalNorm(g))).toBe(false);
    tf.dispose(g);
  });
});
