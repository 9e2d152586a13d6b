/**
 * Preview for the UI's hard-negative control: the original and K negatives as small PNGs,
 * drawn from the same strategy code the trainer uses, with a seed so the UI is stable.
 */
import sharp from 'sharp';
import { Rng } from '../rng';
import type { ImageCache } from './image-cache';
import { describeStrategy, makeNegative, validateStrategy, type NegativeStrategy } from './negatives';
import { loadRgb, toUnit } from './preprocess';
import type { ImageRef } from './types';

export interface NegativePreview {
  /** PNG of the original at the preview size. */
  original: Buffer;
  /** K PNGs of m'. */
  negatives: Buffer[];
  /** "crop 1-20%" etc. */
  label: string;
}

export interface PreviewOptions {
  /** Images to draw from for the random-image strategy (the dataset's others). */
  others?: ImageRef[];
  cache?: ImageCache;
}

async function png(unit: Float32Array, size: number): Promise<Buffer> {
  const px = Buffer.alloc(unit.length);
  for (let i = 0; i < unit.length; i++) px[i] = Math.round(Math.min(1, Math.max(0, unit[i])) * 255);
  return sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

export async function previewNegatives(
  imageRef: ImageRef,
  strategy: NegativeStrategy,
  k: number,
  seed: number,
  size = 128,
  options: PreviewOptions = {},
): Promise<NegativePreview> {
  validateStrategy(strategy);
  if (!(Number.isInteger(k) && k >= 0 && k <= 64)) throw new Error(`Expected k to be an integer in [0, 64], but got ${k}`);
  if (!(Number.isInteger(size) && size >= 8 && size <= 1024)) throw new Error(`Expected size to be an integer in [8, 1024], but got ${size}`);
  const params = { size, fit: 'fill' as const };
  const image = toUnit(await loadRgb(imageRef, params, { cache: options.cache }));
  const negatives: Buffer[] = [];
  for (let n = 0; n < k; n++) {
    const rng = Rng.derive(seed, `preview/${n}`);
    let other: Float32Array | undefined;
    if (strategy.kind === 'random-image') {
      const pool = options.others ?? [];
      if (pool.length === 0) throw new Error('The random-image preview needs other images of the dataset (options.others)');
      other = toUnit(await loadRgb(rng.pick(pool), params, { cache: options.cache }));
    }
    negatives.push(await png(makeNegative(image, size, size, strategy, rng, other), size));
  }
  return { original: await png(image, size), negatives, label: describeStrategy(strategy) };
}
