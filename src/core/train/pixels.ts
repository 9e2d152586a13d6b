/**
 * [0, 1] RGB images -> the model's pixel batch [B, H, W, 3], normalised per channel with the
 * model's mean/std ((x - mean) / std, as HF image processors do) when it declares them.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainableModel } from './types';

export function pixelBatch(
  model: TrainableModel,
  images: readonly Float32Array[],
  [H, W]: readonly [number, number],
): tf.Tensor4D {
  const per = H * W * 3;
  const out = new Float32Array(images.length * per);
  const norm = model.config?.image;
  images.forEach((img, b) => {
    if (img.length !== per) {
      throw new Error(`Expected an image of ${H}x${W}x3 = ${per} values, but got ${img.length}`);
    }
    if (!norm) {
      out.set(img, b * per);
      return;
    }
    const base = b * per;
    for (let p = 0; p < per; p += 3) {
      for (let c = 0; c < 3; c++) out[base + p + c] = (img[p + c] - norm.mean[c]) / norm.std[c];
    }
  });
  return tf.tensor4d(out, [images.length, H, W, 3]); // [B, H, W, 3]
}

/** Tokens through the model for one sequence, image positions not counted. */
export function tokenCount(promptIds: readonly number[], answerIds: readonly number[]): number {
  return promptIds.length + answerIds.length;
}
