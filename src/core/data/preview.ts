/**
 * Preview for the UI's hard-negative control: the original and K negatives as small PNGs
 * (longest side `size`, aspect ratio kept), drawn from the same strategy code the trainer
 * uses, with a seed so the UI is stable.
 */
import sharp from 'sharp';
import { Rng } from '../rng';
import { describeStrategy, makeNegative, validateStrategy, type NegativeStrategy } from './negatives';
import { decodeRgb, readImageBytes, toUnit } from './preprocess';
import type { ImageRef } from './types';

export interface NegativePreview {
  /** PNG of the original, its longest side `size` (aspect ratio kept). */
  original: Buffer;
  /** K PNGs of m', the same size as the original. */
  negatives: Buffer[];
  /** "crop 1-20%" etc. */
  label: string;
}

export interface PreviewOptions {
  /** Images to draw from for the random-image strategy (the dataset's others). */
  others?: ImageRef[];
}

async function png(unit: Float32Array, width: number, height: number): Promise<Buffer> {
  const px = Buffer.alloc(unit.length);
  for (let i = 0; i < unit.length; i++) px[i] = Math.round(Math.min(1, Math.max(0, unit[i])) * 255);
  return sharp(px, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** [height, width] with the longest side `size`, from the image header. */
async function previewShape(bytes: Uint8Array, size: number): Promise<[number, number]> {
  const meta = await sharp(bytes).metadata();
  const w0 = meta.width ?? size;
  const h0 = meta.height ?? size;
  const scale = size / Math.max(w0, h0);
  return [Math.max(1, Math.round(h0 * scale)), Math.max(1, Math.round(w0 * scale))];
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
  const bytes = await readImageBytes(imageRef);
  const [h, w] = await previewShape(bytes, size);
  const params = { size: [h, w] as const, fit: 'fill' as const };
  const image = toUnit(await decodeRgb(bytes, params));
  const negatives: Buffer[] = [];
  for (let n = 0; n < k; n++) {
    const rng = Rng.derive(seed, `preview/${n}`);
    let other: Float32Array | undefined;
    if (strategy.kind === 'random-image') {
      const pool = options.others ?? [];
      if (pool.length === 0) throw new Error('The random-image preview needs other images of the dataset (options.others)');
      other = toUnit(await decodeRgb(await readImageBytes(rng.pick(pool)), params));
    }
    negatives.push(await png(makeNegative(image, w, h, strategy, rng, other), w, h));
  }
  return { original: await png(image, w, h), negatives, label: describeStrategy(strategy) };
}
