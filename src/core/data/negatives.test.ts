import { describe, expect, it } from 'vitest';
import { Rng } from '../rng';
import { cropResizeBilinear, resizeBilinear } from './image-ops';
import {
  DEFAULT_NEGATIVE,
  describeStrategy,
  makeNegative,
  pickOtherIndex,
  sampleCropBox,
  strategyFromConfig,
  validateStrategy,
  type NegativeStrategy,
} from './negatives';

/** A smooth, non-constant test image [H, W, 3] in [0, 1]. */
function gradient(width: number, height: number): Float32Array {
  const img = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      img[o] = x / (width - 1 || 1);
      img[o + 1] = y / (height - 1 || 1);
      img[o + 2] = ((x * 7 + y * 13) % 17) / 16;
    }
  }
  return img;
}

const equal = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

describe('sampleCropBox (torchvision RandomResizedCrop.get_params)', () => {
  /**
   * Whether integer sides w x h can come from rounding a real box whose ratio is in [lo, hi]:
   * w = round(sqrt(A r)), h = round(sqrt(A / r)), so the real sides are within 0.5 of them.
   */
  const ratioReachable = (box: { width: number; height: number }, lo: number, hi: number) =>
    (box.width + 0.5) / Math.max(box.height - 0.5, 1e-9) >= lo && (box.width - 0.5) / (box.height + 0.5) <= hi;

  it('keeps the area within the range (up to rounding) and the ratio within 3/4..4/3', () => {
    const rng = new Rng(1);
    // Large enough that rounding moves the ratio by little (sides of 60..300 px).
    const W = 640;
    const H = 480;
    const ratios: number[] = [];
    for (let t = 0; t < 500; t++) {
      const box = sampleCropBox(W, H, 0.01, 0.2, rng);
      const frac = (box.width * box.height) / (W * H);
      // Rounding w and h to integers moves the area by at most ~(w + h + 1) pixels.
      const slack = (box.width + box.height + 1) / (W * H);
      expect(frac).toBeGreaterThanOrEqual(0.01 - slack);
      expect(frac).toBeLessThanOrEqual(0.2 + slack);
      expect(box.top + box.height).toBeLessThanOrEqual(H);
      expect(box.left + box.width).toBeLessThanOrEqual(W);
      expect(box.top).toBeGreaterThanOrEqual(0);
      expect(box.left).toBeGreaterThanOrEqual(0);
      expect(ratioReachable(box, 3 / 4, 4 / 3)).toBe(true);
      ratios.push(box.width / box.height);
    }
    // Log-uniform over [3/4, 4/3]: 500 draws reach close to both ends, so a narrowed range fails too.
    expect(Math.min(...ratios)).toBeLessThan(0.77);
    expect(Math.max(...ratios)).toBeGreaterThan(1.3);
    // The check itself catches a widened range (1/2..2): some box falls outside 3/4..4/3.
    const wide = Array.from({ length: 500 }, () => sampleCropBox(W, H, 0.01, 0.2, rng, 1 / 2, 2));
    expect(wide.some((b) => !ratioReachable(b, 3 / 4, 4 / 3))).toBe(true);
  });

  it('the crop strategy defaults to the 3/4..4/3 range and honours its own', () => {
    expect(validateStrategy({ kind: 'crop', minArea: 0.01, maxArea: 0.2 })).toMatchObject({ kind: 'crop' });
    const rng = new Rng(5);
    for (let t = 0; t < 200; t++) {
      expect(ratioReachable(sampleCropBox(640, 480, 0.05, 0.2, rng, 0.9, 1.1), 0.9, 1.1)).toBe(true);
    }
  });

  it('is deterministic per seed and differs across seeds', () => {
    const a = Array.from({ length: 20 }, (_, i) => sampleCropBox(100, 100, 0.2, 0.5, Rng.derive(7, `n${i}`)));
    const b = Array.from({ length: 20 }, (_, i) => sampleCropBox(100, 100, 0.2, 0.5, Rng.derive(7, `n${i}`)));
    const c = Array.from({ length: 20 }, (_, i) => sampleCropBox(100, 100, 0.2, 0.5, Rng.derive(8, `n${i}`)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('falls back to a centre crop after 10 failed attempts, never to the whole image when maxArea < 1', () => {
    // A 2x2 image: target area <= 0.8 px rounds to w or h = 0 on every attempt.
    const box = sampleCropBox(2, 2, 0.01, 0.2, new Rng(3));
    expect(box.width * box.height).toBeLessThan(4);
    // A very wide image: outside the ratio range, torchvision's fallback keeps the full height.
    const wide = sampleCropBox(1000, 1, 0.5, 1, new Rng(3));
    expect(wide.height).toBe(1);
    expect(wide.width).toBe(Math.round(4 / 3));
  });

  it('returns the whole image only when the range allows 100%', () => {
    const box = sampleCropBox(10, 10, 1, 1, new Rng(0));
    expect(box).toEqual({ top: 0, left: 0, height: 10, width: 10 });
  });
});

describe('makeNegative', () => {
  const W = 24;
  const H = 16;
  const img = gradient(W, H);

  it('crop: deterministic per seed, never equal to m for a crop under 100%, image untouched', () => {
    const before = img.slice();
    for (let seed = 0; seed < 50; seed++) {
      const a = makeNegative(img, W, H, DEFAULT_NEGATIVE, new Rng(seed));
      const b = makeNegative(img, W, H, DEFAULT_NEGATIVE, new Rng(seed));
      expect(equal(a, b)).toBe(true);
      expect(a.length).toBe(img.length);
      expect(equal(a, img)).toBe(false);
      expect(a.every((v) => v >= 0 && v <= 1)).toBe(true);
    }
    expect(equal(img, before)).toBe(true);
    const a = makeNegative(img, W, H, DEFAULT_NEGATIVE, new Rng(1));
    const c = makeNegative(img, W, H, DEFAULT_NEGATIVE, new Rng(2));
    expect(equal(a, c)).toBe(false);
  });

  it('crop: even tiny images give m\' != m', () => {
    for (const [w, h] of [[2, 2], [3, 1], [1, 3], [4, 4]]) {
      const small = gradient(w, h);
      const neg = makeNegative(small, w, h, { kind: 'crop', minArea: 0.01, maxArea: 0.2 }, new Rng(9));
      expect(equal(neg, small)).toBe(false);
    }
  });

  it('crop: a 1x1-pixel crop region becomes a constant image', () => {
    const neg = cropResizeBilinear(img, W, H, { top: 3, left: 5, height: 1, width: 1 }, W, H);
    const o = (3 * W + 5) * 3;
    for (let p = 0; p < neg.length; p += 3) expect([neg[p], neg[p + 1], neg[p + 2]]).toEqual([img[o], img[o + 1], img[o + 2]]);
  });

  it('bilinear resize to the same size is the identity, and a linear ramp stays linear', () => {
    expect(equal(resizeBilinear(img, W, H, W, H), img)).toBe(true);
    const ramp = new Float32Array([0, 0, 0, 1, 1, 1]); // 1x2
    const up = resizeBilinear(ramp, 2, 1, 4, 1);
    // Half-pixel centres: outputs sample at x = -0.25, 0.25, 0.75, 1.25 -> clamped 0, .25, .75, 1.
    expect(Array.from(up.filter((_, i) => i % 3 === 0))).toEqual([0, 0.25, 0.75, 1]);
  });

  it('random-image: copies the other image and refuses a missing or same image', () => {
    const other = gradient(W, H).map((v) => 1 - v);
    const neg = makeNegative(img, W, H, { kind: 'random-image' }, new Rng(0), other);
    expect(equal(neg, other)).toBe(true);
    expect(neg).not.toBe(other);
    expect(() => makeNegative(img, W, H, { kind: 'random-image' }, new Rng(0))).toThrow(/needs otherImage/);
    expect(() => makeNegative(img, W, H, { kind: 'random-image' }, new Rng(0), img)).toThrow(/image itself/);
    expect(() => makeNegative(img, W, H, { kind: 'random-image' }, new Rng(0), new Float32Array(3))).toThrow(/Expected an image/);
  });

  it('pickOtherIndex never returns the index itself and covers the others', () => {
    const rng = new Rng(5);
    const seen = new Set<number>();
    for (let t = 0; t < 200; t++) {
      const j = pickOtherIndex(2, 5, rng);
      expect(j).not.toBe(2);
      seen.add(j);
    }
    expect([...seen].sort()).toEqual([0, 1, 3, 4]);
    expect(() => pickOtherIndex(0, 1, rng)).toThrow(/at least 2 images/);
  });

  it('augment: deterministic, in range, different from m', () => {
    const strategy: NegativeStrategy = { kind: 'augment' };
    const big = gradient(64, 64);
    for (let seed = 0; seed < 10; seed++) {
      const a = makeNegative(big, 64, 64, strategy, new Rng(seed));
      const b = makeNegative(big, 64, 64, strategy, new Rng(seed));
      expect(equal(a, b)).toBe(true);
      expect(equal(a, big)).toBe(false);
      expect(a.every((v) => v >= 0 && v <= 1 && Number.isFinite(v))).toBe(true);
    }
  });

  it('rejects bad strategies and image shapes with plain messages', () => {
    expect(() => validateStrategy({ kind: 'crop', minArea: 0, maxArea: 0.2 })).toThrow(/crop.minArea in \(0, 1\]/);
    expect(() => validateStrategy({ kind: 'crop', minArea: 0.5, maxArea: 0.2 })).toThrow(/minArea <= maxArea/);
    expect(() => validateStrategy({ kind: 'crop', minArea: 0.1, maxArea: 1.5 })).toThrow(/maxArea/);
    expect(() => validateStrategy({ kind: 'blur' } as unknown as NegativeStrategy)).toThrow(/Unknown negative strategy/);
    expect(() => makeNegative(img, 0, H, DEFAULT_NEGATIVE, new Rng(0))).toThrow(/width to be a positive integer/);
    expect(() => makeNegative(img, W, H + 1, DEFAULT_NEGATIVE, new Rng(0))).toThrow(/Expected an image of/);
  });

  it('maps the run config (src/shared negativeSchema) to a strategy', () => {
    expect(strategyFromConfig({ strategy: 'crop', cropMin: 0.2, cropMax: 0.5 })).toEqual({ kind: 'crop', minArea: 0.2, maxArea: 0.5 });
    expect(strategyFromConfig({ strategy: 'augment', cropMin: 0.2, cropMax: 0.5 })).toEqual({ kind: 'augment' });
    expect(() => strategyFromConfig({ strategy: 'crop', cropMin: 0.6, cropMax: 0.5 })).toThrow(/minArea <= maxArea/);
  });

  it('describes strategies for the UI', () => {
    expect(describeStrategy(DEFAULT_NEGATIVE)).toBe('crop 1-20%');
    expect(describeStrategy({ kind: 'crop', minArea: 0.2, maxArea: 0.5 })).toBe('crop 20-50%');
    expect(describeStrategy({ kind: 'random-image' })).toBe('random other image');
  });
});
