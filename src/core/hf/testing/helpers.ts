/**
 * Shared by the HF tests: a preference source built through the real processor, batches,
 * a naive reference forward, directional finite differences. Not imported by production code.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_NEGATIVE, makeNegative } from '../../data/negatives';
import { decoderLayers, embedTokens, outputLogits } from '../../model/decoder';
import { Rng } from '../../rng';
import type { PreferenceExample, PreferenceSource } from '../../train/types';
import type { HfProcessor } from '../load';
import type { HfBatch, HfVlm } from '../model';
import { tinyImage } from './fixtures';

export async function tempDir(label: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `mdpo-hf-${label}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const QUESTIONS = ['what is this?', 'is the cat here?', 'the cat is a cat', 'what the'];
const ANSWERS = ['a cat.', 'the cat is there', 'is a cat', 'there is the cat on it', 'no'];

/** n pairs: processor-made prompts and answers, seeded images. */
export class ProcessorPreferenceSource implements PreferenceSource {
  readonly imageShape: readonly [number, number];
  readonly pairs: PreferenceExample[];

  constructor(readonly processor: HfProcessor, readonly size: number, seed = 3) {
    const S = processor.imageShape[0];
    this.imageShape = [S, S];
    this.pairs = Array.from({ length: size }, (_, i) => ({
      id: `pair-${i}`,
      image: tinyImage(S, seed * 100 + i),
      promptIds: processor.promptIds(QUESTIONS[i % QUESTIONS.length]),
      chosenIds: processor.answerIds(ANSWERS[i % ANSWERS.length]),
      rejectedIds: processor.answerIds(ANSWERS[(i + 2) % ANSWERS.length]),
    }));
  }

  example(i: number): PreferenceExample {
    return this.pairs[i];
  }

  negative(i: number, _epoch: number, rng: Rng): Float32Array {
    const [H, W] = this.imageShape;
    return makeNegative(this.pairs[i].image, H, W, DEFAULT_NEGATIVE, rng);
  }
}

/** Normalised pixels [B, S, S, 3] for the model. */
export function pixelsFor(model: HfVlm, images: Float32Array[]): tf.Tensor4D {
  const S = model.config.vision.imageSize;
  const { mean, std } = model.config.image;
  const out = new Float32Array(images.length * S * S * 3);
  images.forEach((img, b) => img.forEach((x, i) => (out[b * S * S * 3 + i] = (x - mean[i % 3]) / std[i % 3])));
  return tf.tensor4d(out, [images.length, S, S, 3]);
}

/** A ragged batch of B examples from the source (chosen answers). */
export function batchOf(model: HfVlm, src: ProcessorPreferenceSource, idx: number[]): HfBatch {
  return {
    pixels: pixelsFor(model, idx.map((i) => src.pairs[i].image)),
    promptIds: idx.map((i) => src.pairs[i].promptIds),
    answerIds: idx.map((i) => src.pairs[i].chosenIds),
  };
}

/**
 * Reference: one example, no padding, built independently of HfVlm's merge: the image
 * features written into a JS copy of the embeddings at the placeholder rows, then the
 * project's own decoderLayers (src/core/model) and output head on every slot. [T, V].
 */
export function naiveLogits(model: HfVlm, pixels: tf.Tensor4D, ids: number[], lora = true): number[][] {
  return tf.tidy(() => {
    const ctx = model.vlm.ctx({ lora });
    const c = model.config;
    const img = model.encodeImages(pixels, { lora }).arraySync()[0]; // [N, D]
    const emb = (embedTokens(ctx, c, [ids]).arraySync() as number[][][])[0]; // [T, D]
    let k = 0;
    ids.forEach((id, t) => {
      if (id === model.extras.imageTokenId) emb[t] = img[k++];
    });
    if (k !== img.length) throw new Error(`placeholders ${k} vs features ${img.length}`);
    const x = tf.tensor3d([emb]);
    const T = ids.length;
    const pos = [Array.from({ length: T }, (_, t) => t)];
    const { hidden } = decoderLayers(ctx, c, x, pos, [pos[0].map(() => true)], null, false);
    return (outputLogits(ctx, c, hidden).arraySync() as number[][][])[0];
  }) as unknown as number[][];
}

export function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * Directional finite difference of f at variable v along a seeded direction d, vs <grad f, d>.
 * Central differences D(h) = (f(v + h d) - f(v - h d)) / 2h at h = eps and eps/2, combined by
 * Richardson extrapolation (4 D(eps/2) - D(eps)) / 3, which cancels the O(h^2) curvature term
 * (the tiny random models are strongly curved; float32 noise limits how small h can be).
 */
export function directionalCheck(f: () => tf.Scalar, v: tf.Variable, eps: number, seed: number): { analytic: number; numeric: number } {
  const r = new Rng(seed);
  const d = tf.tensor(Float32Array.from({ length: v.size }, () => r.normal()), v.shape, 'float32');
  const { grads, value } = tf.variableGrads(f, [v]);
  value.dispose();
  const analytic = tf.tidy(() => tf.sum(tf.mul(grads[v.name], d)).dataSync()[0]);
  tf.dispose(grads);
  const base = v.clone();
  const at = (s: number) => {
    tf.tidy(() => v.assign(tf.add(base, tf.mul(d, s))));
    return tf.tidy(() => f().dataSync()[0]);
  };
  const central = (h: number) => (at(h) - at(-h)) / (2 * h);
  const numeric = (4 * central(eps / 2) - central(eps)) / 3;
  v.assign(base);
  tf.dispose([base, d]);
  return { analytic, numeric };
}
