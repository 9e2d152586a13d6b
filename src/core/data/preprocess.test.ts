import fs from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageCache } from './image-cache';
import { sha256 } from './image-check';
import { decodeRgb, loadImage, loadRgb, normalize, outputShape } from './preprocess';
import { tempDir, tinyPng } from './testing/fixtures';
import type { ImageRef } from './types';

let dir: string;
beforeAll(async () => {
  dir = await tempDir('data-preprocess-');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const solid = (channels: 3 | 4, bg: { r: number; g: number; b: number; alpha?: number }, w = 6, h = 4) =>
  sharp({ create: { width: w, height: h, channels, background: bg } });

describe('decodeRgb', () => {
  it('resizes to [H, W, 3] 8-bit sRGB', async () => {
    const px = await decodeRgb(await solid(3, { r: 10, g: 20, b: 30 }).png().toBuffer(), { size: [5, 7] });
    expect(px.length).toBe(5 * 7 * 3);
    expect(Array.from(px.subarray(0, 3))).toEqual([10, 20, 30]);
  });

  it('flattens alpha onto white, expands grayscale, converts CMYK and 16-bit', async () => {
    const clear = await decodeRgb(await solid(4, { r: 0, g: 0, b: 0, alpha: 0 }).png().toBuffer(), { size: 4 });
    expect(Array.from(clear.subarray(0, 3))).toEqual([255, 255, 255]);
    const gray = await decodeRgb(await sharp(await tinyPng(4, 4)).toColourspace('b-w').png().toBuffer(), { size: 4 });
    expect(gray.length).toBe(48);
    for (let p = 0; p < 48; p += 3) expect(gray[p]).toBe(gray[p + 2]);
    const cmyk = await decodeRgb(await solid(3, { r: 200, g: 10, b: 10 }).toColourspace('cmyk').jpeg().toBuffer(), { size: 4 });
    expect(cmyk[0]).toBeGreaterThan(150);
    expect(cmyk[2]).toBeLessThan(80);
    const deep = await decodeRgb(await solid(3, { r: 100, g: 150, b: 200 }).toColourspace('rgb16').png().toBuffer(), { size: 4 });
    expect(Array.from(deep.subarray(0, 3)).map((v) => Math.abs(v - 100) <= 2 || Math.abs(v - 150) <= 2 || Math.abs(v - 200) <= 2)).toEqual([true, true, true]);
  });

  it("'contain' pads with the mean colour, 'cover' crops", async () => {
    const wide = await solid(3, { r: 0, g: 0, b: 0 }, 8, 2).png().toBuffer();
    const padded = await decodeRgb(wide, { size: 8, fit: 'contain', mean: [1, 0, 0] });
    expect(Array.from(padded.subarray(0, 3))).toEqual([255, 0, 0]); // top-left is padding
    const covered = await decodeRgb(wide, { size: 8, fit: 'cover' });
    expect(covered.every((v) => v === 0)).toBe(true);
  });

  it('refuses bad bytes and bad sizes with a reason', async () => {
    await expect(decodeRgb(new Uint8Array([1, 2, 3]), { size: 4 })).rejects.toThrow();
    expect(() => outputShape({ size: 0 })).toThrow(/size to be a positive integer/);
  });
});

describe('loadImage and the disk cache', () => {
  it('returns [0, 1] or normalised floats', async () => {
    const file = path.join(dir, 'solid.png');
    await fs.writeFile(file, await solid(3, { r: 255, g: 0, b: 51 }).png().toBuffer());
    const ref: ImageRef = { kind: 'file', path: file, relPath: 'solid.png' };
    const unit = await loadImage(ref, { size: 2 });
    expect(Array.from(unit.subarray(0, 3)).map((v) => Math.round(v * 100) / 100)).toEqual([1, 0, 0.2]);
    const norm = await loadImage(ref, { size: 2, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(Array.from(norm.subarray(0, 3)).map((v) => Math.round(v * 100) / 100)).toEqual([1, -1, -0.6]);
    expect(normalize(new Float32Array([0.5, 0.5, 0.5]), {})).toEqual(new Float32Array([0.5, 0.5, 0.5]));
  });

  it('decodes once: a later load with the known hash does not touch the file; damaged entries are misses', async () => {
    const cache = new ImageCache(path.join(dir, 'cache'));
    const file = path.join(dir, 'img.png');
    const bytes = await tinyPng(9, 7, 2);
    await fs.writeFile(file, bytes);
    const ref: ImageRef = { kind: 'file', path: file, relPath: 'img.png' };
    const first = await loadRgb(ref, { size: 5 }, { cache });
    const entries = await fs.readdir(path.join(dir, 'cache'), { recursive: true });
    expect(entries.filter((e) => e.endsWith('.rgb'))).toHaveLength(1);
    expect(entries.some((e) => e.endsWith('.tmp'))).toBe(false);
    await fs.rename(file, `${file}.moved`);
    const again = await loadRgb(ref, { size: 5 }, { cache, sha256: sha256(bytes) });
    expect(Buffer.from(again).equals(Buffer.from(first))).toBe(true);
    // Another size is another entry (and needs the file).
    await expect(loadRgb(ref, { size: 6 }, { cache, sha256: sha256(bytes) })).rejects.toThrow(/ENOENT/);
    await fs.rename(`${file}.moved`, file);
    // A short (damaged) entry is re-decoded and rewritten.
    const key = ImageCache.key(sha256(bytes), { h: 5, w: 5, fit: 'fill' });
    await fs.writeFile(cache.pathOf(key), Buffer.from([1, 2, 3]));
    const fixed = await loadRgb(ref, { size: 5 }, { cache, sha256: sha256(bytes) });
    expect(Buffer.from(fixed).equals(Buffer.from(first))).toBe(true);
    expect(cache.getSync(key, 75)?.length).toBe(75);
  });
});
