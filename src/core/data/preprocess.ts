/**
 * Image preprocessing with sharp: decode (first frame), flatten alpha onto white, convert to
 * sRGB 8-bit 3 channels, resize to the model's size. Returns [H, W, 3] pixels; [0, 1] floats
 * or (x - mean) / std normalised as the model wants. Decoded pixels are cached on disk.
 */
import sharp from 'sharp';
import { DEFAULT_MAX_PIXELS, sha256 } from './image-check';
import { ImageCache } from './image-cache';
import { readParquetCell } from './read-files';
import type { ImageRef } from './types';
import fs from 'node:fs/promises';

export interface PreprocessParams {
  /** Output size: a square side, or [height, width]. */
  size: number | readonly [number, number];
  /**
   * 'fill' stretches to the size (default); 'cover' scales the short side and centre-crops
   * (CLIP's processor); 'contain' letterboxes with the mean colour (LLaVA's "pad").
   */
  fit?: 'fill' | 'cover' | 'contain';
  /** Per-channel mean/std for normalize(); absent means [0, 1] values. */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

export interface LoadOptions {
  cache?: ImageCache;
  /** Known content hash (the record's imageInfo.sha256): a cache hit skips reading the file. */
  sha256?: string;
  maxPixels?: number;
}

export function outputShape(params: PreprocessParams): [number, number] {
  const [h, w] = typeof params.size === 'number' ? [params.size, params.size] : params.size;
  if (!(Number.isInteger(h) && h > 0 && Number.isInteger(w) && w > 0)) {
    throw new Error(`Expected size to be a positive integer or [height, width], but got ${JSON.stringify(params.size)}`);
  }
  return [h, w];
}

/** Only what changes the pixels: the cache key's parameters. */
function pixelParams(params: PreprocessParams): Record<string, unknown> {
  const [h, w] = outputShape(params);
  const fit = params.fit ?? 'fill';
  return { h, w, fit, ...(fit === 'contain' ? { pad: params.mean ?? [0, 0, 0] } : {}) };
}

/** The bytes of an image, from its file or from its parquet cell. */
export async function readImageBytes(ref: ImageRef): Promise<Uint8Array> {
  if (ref.kind === 'file') return fs.readFile(ref.path);
  let cell = await readParquetCell(ref.file, ref.row, ref.column);
  if (Array.isArray(cell)) cell = cell[ref.element ?? 0];
  if (cell && typeof cell === 'object' && !(cell instanceof Uint8Array)) cell = (cell as { bytes?: unknown }).bytes;
  if (!(cell instanceof Uint8Array)) throw new Error(`Row ${ref.row}, column "${ref.column}" of ${ref.file} no longer holds image bytes`);
  return cell;
}

/** Decodes and resizes to [H, W, 3] 8-bit sRGB. Throws with sharp's reason for bad bytes. */
export async function decodeRgb(bytes: Uint8Array, params: PreprocessParams, maxPixels = DEFAULT_MAX_PIXELS): Promise<Uint8Array> {
  const [h, w] = outputShape(params);
  const fit = params.fit ?? 'fill';
  const pad = (params.mean ?? [0, 0, 0]).map((v) => Math.round(v * 255));
  const { data, info } = await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated' })
    .flatten({ background: { r: 255, g: 255, b: 255 } })
    .toColourspace('srgb')
    .resize(w, h, { fit: fit === 'fill' ? 'fill' : fit, kernel: 'cubic', background: { r: pad[0], g: pad[1], b: pad[2] } })
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.width !== w || info.height !== h) throw new Error(`sharp returned ${info.width}x${info.height}, expected ${w}x${h}`);
  if (info.channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  // Grayscale survived the colourspace conversion: replicate the channel.
  const out = new Uint8Array(w * h * 3);
  for (let p = 0; p < w * h; p++) out.fill(data[p * info.channels], p * 3, p * 3 + 3);
  return out;
}

/** [H, W, 3] 8-bit pixels of an image ref, from the cache when possible. */
export async function loadRgb(ref: ImageRef, params: PreprocessParams, options: LoadOptions = {}): Promise<Uint8Array> {
  const [h, w] = outputShape(params);
  const bytesOut = h * w * 3;
  const known = options.sha256 ?? (ref.kind === 'embedded' ? ref.sha256 : undefined);
  if (options.cache && known) {
    const hit = await options.cache.get(ImageCache.key(known, pixelParams(params)), bytesOut);
    if (hit) return hit;
  }
  const bytes = await readImageBytes(ref);
  const key = ImageCache.key(sha256(bytes), pixelParams(params));
  if (options.cache) {
    const hit = await options.cache.get(key, bytesOut);
    if (hit) return hit;
  }
  const pixels = await decodeRgb(bytes, params, options.maxPixels);
  if (options.cache) await options.cache.set(key, pixels);
  return pixels;
}

/** The cache key of an image whose content hash is known (for synchronous reads). */
export function cacheKey(contentSha256: string, params: PreprocessParams): string {
  return ImageCache.key(contentSha256, pixelParams(params));
}

/** 8-bit pixels to [0, 1] floats. */
export function toUnit(pixels: Uint8Array): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = pixels[i] / 255;
  return out;
}

/** (x - mean) / std per channel on [0, 1] HWC floats; a copy when mean/std are absent. */
export function normalize(image: Float32Array, params: Pick<PreprocessParams, 'mean' | 'std'>): Float32Array {
  const mean = params.mean ?? [0, 0, 0];
  const std = params.std ?? [1, 1, 1];
  const out = new Float32Array(image.length);
  for (let p = 0; p < image.length; p += 3) for (let c = 0; c < 3; c++) out[p + c] = (image[p + c] - mean[c]) / std[c];
  return out;
}

/** The model-ready tensor of an image: [H, W, 3], normalised when mean/std are given. */
export async function loadImage(ref: ImageRef, params: PreprocessParams, options: LoadOptions = {}): Promise<Float32Array> {
  const unit = toUnit(await loadRgb(ref, params, options));
  return params.mean || params.std ? normalize(unit, params) : unit;
}
