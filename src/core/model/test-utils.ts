/**
 * Shared by the model's tests: a tiny config (fast on 2 cores) and seeded inputs.
 * Not imported by production code.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import type { VlmConfig } from './config';
import { BUILTIN_SMALL, withOverrides } from './config';

/** 16x16 images, 4 patches, widths 16/24: every test file runs in seconds. */
export const TINY: VlmConfig = withOverrides(BUILTIN_SMALL, {
  vision: { imageSize: 16, patchSize: 8, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 24 },
  text: { vocabSize: 20, hiddenSize: 24, numLayers: 2, numHeads: 4, numKeyValueHeads: 2, intermediateSize: 40 },
});

/** Seeded uniform values in [lo, hi). */
export function seeded(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r.uniform(lo, hi);
  return out;
}

export function seededPixels(B: number, c: VlmConfig, seed: number): tf.Tensor4D {
  const s = c.vision.imageSize;
  return tf.tensor4d(seeded(B * s * s * 3, seed), [B, s, s, 3]);
}

/** A ragged batch: prompts and answers of different lengths, answers end with eos. */
export function raggedBatch(c: VlmConfig, B: number, seed: number): { promptIds: number[][]; answerIds: number[][] } {
  const r = new Rng(seed);
  const V = c.text.vocabSize;
  const word = () => 4 + r.int(V - 5);
  const promptIds = Array.from({ length: B }, (_, b) => Array.from({ length: 1 + ((b * 2 + 1) % 4) }, word));
  const answerIds = Array.from({ length: B }, (_, b) => [...Array.from({ length: (b * 3) % 5 }, word), c.tokens.eos]);
  return { promptIds, answerIds };
}

/** max |a - b| */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
