/**
 * [0, 1] RGB images (Float32Array, HWC, as src/core/data decodes them) -> the model's pixel
 * batch: (x - mean) / std per channel, as Hugging Face image processors do. Resizing is the
 * data layer's job; here the size must already be vision.imageSize.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { VlmConfig } from './config';

/** One image: HWC [0, 1] -> normalised HWC (a new array). */
export function normalizeImage(config: VlmConfig, rgb: Float32Array): Float32Array {
  const s = config.vision.imageSize;
  const per = s * s * 3;
  if (!(rgb instanceof Float32Array) || rgb.length !== per) {
    throw new Error(`Expected an image of ${s}x${s}x3 = ${per} values in [0, 1], but got ${rgb?.length ?? String(rgb)}`);
  }
  const { mean, std } = config.image;
  const out = new Float32Array(per);
  for (let p = 0; p < per; p += 3) {
    for (let c = 0; c < 3; c++) {
      const v = rgb[p + c];
      if (!Number.isFinite(v)) throw new Error(`Expected finite pixel values, but got ${v} at index ${p + c}`);
      out[p + c] = (v - mean[c]) / std[c];
    }
  }
  return out;
}

/** Several images -> [B, S, S, 3] normalised pixels for sequenceLogProbs / encodeImages. */
export function pixelsFromImages(config: VlmConfig, images: readonly Float32Array[]): tf.Tensor4D {
  const s = config.vision.imageSize;
  const per = s * s * 3;
  const out = new Float32Array(images.length * per);
  images.forEach((img, b) => out.set(normalizeImage(config, img), b * per));
  return tf.tensor4d(out, [images.length, s, s, 3]); // [B, S, S, 3]
}
