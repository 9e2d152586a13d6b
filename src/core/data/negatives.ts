/**
 * Hard-negative images m' for mDPO's conditional term (docs/objective.md#the-corrupted-image-m).
 *
 * Every strategy is a pure function of (image, strategy, rng): the caller draws the rng from
 * the project's seeded generator, so the same m' is used for both the policy and the
 * reference log-prob of r(y_w | m') (the authors' code drew two different crops there).
 *
 * Images are HWC Float32Array [H, W, 3] with values in [0, 1]; normalise (mean/std) after.
 */
import type { Rng } from '../rng';
import {
  adjustBrightnessInPlace,
  adjustContrastInPlace,
  adjustHueInPlace,
  adjustSaturationInPlace,
  checkImage,
  cropResizeBilinear,
  flipHorizontalInPlace,
  gaussianBlur,
  grayscaleInPlace,
  type Box,
} from './image-ops';

export type { Box } from './image-ops';

/** How m' is made. Areas are fractions of the image area, ratios are width/height. */
export type NegativeStrategy =
  /** torchvision RandomResizedCrop(size=original, scale=(minArea, maxArea), ratio). */
  | { kind: 'crop'; minArea: number; maxArea: number; minRatio?: number; maxRatio?: number }
  /** A different image of the dataset (the caller picks it, see pickOtherIndex). */
  | { kind: 'random-image' }
  /** MoCo-v2: resized crop (default 0.2-1) + colour jitter + grayscale + blur + flip. */
  | { kind: 'augment'; minArea?: number; maxArea?: number };

/** The authors' default: "crop 0-20%" (scale=(0.01, 0.2), ratio=(3/4, 4/3)). */
export const DEFAULT_NEGATIVE: NegativeStrategy = { kind: 'crop', minArea: 0.01, maxArea: 0.2 };

const DEFAULT_MIN_RATIO = 3 / 4;
const DEFAULT_MAX_RATIO = 4 / 3;

/** Throws a plain error naming the bad field; returns the strategy for chaining. */
export function validateStrategy(strategy: NegativeStrategy): NegativeStrategy {
  if (strategy.kind === 'random-image') return strategy;
  if (strategy.kind !== 'crop' && strategy.kind !== 'augment') {
    throw new Error(`Unknown negative strategy kind ${JSON.stringify((strategy as { kind: unknown }).kind)}; expected crop, random-image or augment`);
  }
  const minArea = strategy.minArea ?? 0.2;
  const maxArea = strategy.maxArea ?? 1;
  if (!(minArea > 0 && minArea <= 1)) throw new Error(`Expected ${strategy.kind}.minArea in (0, 1], but got ${minArea}`);
  if (!(maxArea > 0 && maxArea <= 1)) throw new Error(`Expected ${strategy.kind}.maxArea in (0, 1], but got ${maxArea}`);
  if (minArea > maxArea) throw new Error(`Expected ${strategy.kind}.minArea <= maxArea, but got ${minArea} > ${maxArea}`);
  if (strategy.kind === 'crop') {
    const lo = strategy.minRatio ?? DEFAULT_MIN_RATIO;
    const hi = strategy.maxRatio ?? DEFAULT_MAX_RATIO;
    if (!(lo > 0 && hi >= lo)) throw new Error(`Expected 0 < crop.minRatio <= crop.maxRatio, but got ${lo}, ${hi}`);
  }
  return strategy;
}

/**
 * torchvision RandomResizedCrop.get_params: up to 10 attempts at a box with a random area in
 * [minArea, maxArea] of the image and a log-uniform aspect ratio; then a centre crop.
 *
 * One deliberate deviation: torchvision's fallback may return the WHOLE image (when the image's
 * own ratio is inside the range), which would make m' == m. When maxArea < 1 we instead fall
 * back to a centre box of maxArea of the area. Only a 1x1 image can still give the whole image.
 */
export function sampleCropBox(
  width: number,
  height: number,
  minArea: number,
  maxArea: number,
  rng: Rng,
  minRatio = DEFAULT_MIN_RATIO,
  maxRatio = DEFAULT_MAX_RATIO,
): Box {
  const area = width * height;
  const logLo = Math.log(minRatio);
  const logHi = Math.log(maxRatio);
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(minArea, maxArea);
    const aspect = Math.exp(rng.uniform(logLo, logHi));
    const w = Math.round(Math.sqrt(targetArea * aspect));
    const h = Math.round(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  // Fallback to a centre crop (torchvision).
  const inRatio = width / height;
  let w: number;
  let h: number;
  if (inRatio < minRatio) {
    w = width;
    h = Math.round(w / minRatio);
  } else if (inRatio > maxRatio) {
    h = height;
    w = Math.round(h * maxRatio);
  } else {
    w = width;
    h = height;
  }
  if (w === width && h === height && maxArea < 1) {
    const side = Math.sqrt(maxArea);
    w = Math.max(1, Math.min(width, Math.round(width * side)));
    h = Math.max(1, Math.min(height, Math.round(height * side)));
    if (w === width && h === height) {
      // Rounding kept the full size (tiny image): shave one pixel off the longer side.
      if (width >= height && width > 1) w = width - 1;
      else if (height > 1) h = height - 1;
    }
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** A uniformly drawn index in [0, n) other than `index` (for the random-image strategy). */
export function pickOtherIndex(index: number, n: number, rng: Rng): number {
  if (n < 2) throw new Error(`The random-image negative needs at least 2 images in the dataset, but it has ${n}`);
  const j = rng.int(n - 1);
  return j >= index ? j + 1 : j;
}

/** MoCo v2 (Chen et al. 2020) augmentation on an [H, W, 3] image in [0, 1]. */
function augment(image: Float32Array, width: number, height: number, minArea: number, maxArea: number, rng: Rng): Float32Array {
  const box = sampleCropBox(width, height, minArea, maxArea, rng);
  let out = cropResizeBilinear(image, width, height, box, width, height);
  // RandomApply([ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8): the four adjustments in random order.
  if (rng.next() < 0.8) {
    const order = rng.shuffle([0, 1, 2, 3]);
    const brightness = rng.uniform(0.6, 1.4);
    const contrast = rng.uniform(0.6, 1.4);
    const saturation = rng.uniform(0.6, 1.4);
    const hue = rng.uniform(-0.1, 0.1);
    for (const op of order) {
      if (op === 0) adjustBrightnessInPlace(out, brightness);
      else if (op === 1) adjustContrastInPlace(out, contrast);
      else if (op === 2) adjustSaturationInPlace(out, saturation);
      else adjustHueInPlace(out, hue);
    }
  }
  // RandomGrayscale(p=0.2)
  if (rng.next() < 0.2) grayscaleInPlace(out);
  // RandomApply([GaussianBlur(sigma in [0.1, 2])], p=0.5); MoCo's sigma is for 224 px images.
  if (rng.next() < 0.5) {
    const sigma = rng.uniform(0.1, 2.0) * (Math.min(width, height) / 224);
    if (sigma >= 0.2) out = gaussianBlur(out, width, height, sigma);
  }
  // RandomHorizontalFlip(p=0.5)
  if (rng.next() < 0.5) flipHorizontalInPlace(out, width, height);
  return out;
}

/**
 * m' for one image. Returns a new [H, W, 3] array; `image` is never modified.
 * `otherImage` (same size) is required by the random-image strategy and ignored otherwise.
 */
export function makeNegative(
  image: Float32Array,
  width: number,
  height: number,
  strategy: NegativeStrategy,
  rng: Rng,
  otherImage?: Float32Array,
): Float32Array {
  checkImage(image, width, height);
  validateStrategy(strategy);
  switch (strategy.kind) {
    case 'crop': {
      const box = sampleCropBox(width, height, strategy.minArea, strategy.maxArea, rng, strategy.minRatio, strategy.maxRatio);
      return cropResizeBilinear(image, width, height, box, width, height);
    }
    case 'random-image': {
      if (!otherImage) throw new Error('The random-image negative needs otherImage: another image of the dataset, preprocessed to the same size');
      if (otherImage === image) throw new Error('The random-image negative got the image itself as otherImage; pick another index (pickOtherIndex)');
      checkImage(otherImage, width, height);
      return otherImage.slice();
    }
    case 'augment':
      return augment(image, width, height, strategy.minArea ?? 0.2, strategy.maxArea ?? 1, rng);
  }
}

/** The run config's negative settings (src/shared negativeSchema) as a strategy. */
export function strategyFromConfig(config: { strategy: 'crop' | 'random-image' | 'augment'; cropMin?: number; cropMax?: number }): NegativeStrategy {
  const minArea = config.cropMin ?? 0.01;
  const maxArea = config.cropMax ?? 0.2;
  if (config.strategy === 'crop') return validateStrategy({ kind: 'crop', minArea, maxArea });
  return validateStrategy({ kind: config.strategy });
}

/** A short human label, for reports and the UI ("crop 1-20%"). */
export function describeStrategy(strategy: NegativeStrategy): string {
  const pct = (v: number): string => `${Math.round(v * 1000) / 10}`;
  switch (strategy.kind) {
    case 'crop':
      return `crop ${pct(strategy.minArea)}-${pct(strategy.maxArea)}%`;
    case 'random-image':
      return 'random other image';
    case 'augment':
      return `MoCo-v2 augmentation (crop ${pct(strategy.minArea ?? 0.2)}-${pct(strategy.maxArea ?? 1)}%)`;
  }
}
