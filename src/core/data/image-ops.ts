/**
 * Pure pixel operations on HWC float images (Float32Array of length H*W*C, values in [0, 1]).
 * No sharp, no tfjs: these run per pair per epoch inside the trainer, so they stay plain loops.
 * Used by the hard-negative strategies (negatives.ts).
 */

/** A crop box in pixels: top row, left column, height, width (torchvision's i, j, h, w). */
export interface Box {
  top: number;
  left: number;
  height: number;
  width: number;
}

export function checkImage(image: Float32Array, width: number, height: number, channels = 3): void {
  if (!Number.isInteger(width) || width <= 0) throw new Error(`Expected width to be a positive integer, but got ${width}`);
  if (!Number.isInteger(height) || height <= 0) throw new Error(`Expected height to be a positive integer, but got ${height}`);
  if (image.length !== width * height * channels) {
    throw new Error(`Expected an image of ${height}x${width}x${channels} = ${width * height * channels} values, but got ${image.length}`);
  }
}

/**
 * Crops `box` out of `image` [H, W, C] and resizes it to [outHeight, outWidth, C] with bilinear
 * interpolation and half-pixel centres (PyTorch align_corners=False, what torchvision's
 * resize does when upsampling; the crop is never larger than the output here, so no
 * anti-aliasing is needed).
 */
export function cropResizeBilinear(
  image: Float32Array,
  width: number,
  height: number,
  box: Box,
  outWidth: number,
  outHeight: number,
  channels = 3,
): Float32Array {
  checkImage(image, width, height, channels);
  const { top, left } = box;
  if (box.width <= 0 || box.height <= 0 || top < 0 || left < 0 || top + box.height > height || left + box.width > width) {
    throw new Error(`Crop box ${JSON.stringify(box)} does not fit in a ${height}x${width} image`);
  }
  const out = new Float32Array(outWidth * outHeight * channels);
  const sy = box.height / outHeight;
  const sx = box.width / outWidth;
  // Precompute the horizontal taps once per column.
  const x0s = new Int32Array(outWidth);
  const x1s = new Int32Array(outWidth);
  const wxs = new Float32Array(outWidth);
  for (let x = 0; x < outWidth; x++) {
    const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), box.width - 1);
    const x0 = Math.floor(fx);
    x0s[x] = left + x0;
    x1s[x] = left + Math.min(x0 + 1, box.width - 1);
    wxs[x] = fx - x0;
  }
  for (let y = 0; y < outHeight; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), box.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, box.height - 1);
    const wy = fy - y0;
    const row0 = (top + y0) * width;
    const row1 = (top + y1) * width;
    for (let x = 0; x < outWidth; x++) {
      const wx = wxs[x];
      const a = (row0 + x0s[x]) * channels;
      const b = (row0 + x1s[x]) * channels;
      const c = (row1 + x0s[x]) * channels;
      const d = (row1 + x1s[x]) * channels;
      const o = (y * outWidth + x) * channels;
      for (let k = 0; k < channels; k++) {
        const topV = image[a + k] + (image[b + k] - image[a + k]) * wx;
        const botV = image[c + k] + (image[d + k] - image[c + k]) * wx;
        out[o + k] = topV + (botV - topV) * wy;
      }
    }
  }
  return out;
}

/** Bilinear resize of a whole image. */
export function resizeBilinear(image: Float32Array, width: number, height: number, outWidth: number, outHeight: number, channels = 3): Float32Array {
  return cropResizeBilinear(image, width, height, { top: 0, left: 0, height, width }, outWidth, outHeight, channels);
}

/** ITU-R 601-2 luma, as PIL's convert('L') and torchvision's rgb_to_grayscale. */
function luma(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

/** In place: every pixel becomes its luma on all three channels. */
export function grayscaleInPlace(image: Float32Array): void {
  for (let p = 0; p < image.length; p += 3) {
    const l = luma(image[p], image[p + 1], image[p + 2]);
    image[p] = l;
    image[p + 1] = l;
    image[p + 2] = l;
  }
}

/** In place, torchvision adjust_brightness: x * factor, clamped. */
export function adjustBrightnessInPlace(image: Float32Array, factor: number): void {
  for (let p = 0; p < image.length; p++) image[p] = clamp01(image[p] * factor);
}

/** In place, torchvision adjust_contrast: blend with the mean luma of the image. */
export function adjustContrastInPlace(image: Float32Array, factor: number): void {
  let sum = 0;
  for (let p = 0; p < image.length; p += 3) sum += luma(image[p], image[p + 1], image[p + 2]);
  const mean = sum / (image.length / 3);
  for (let p = 0; p < image.length; p++) image[p] = clamp01(mean + (image[p] - mean) * factor);
}

/** In place, torchvision adjust_saturation: blend with the per-pixel luma. */
export function adjustSaturationInPlace(image: Float32Array, factor: number): void {
  for (let p = 0; p < image.length; p += 3) {
    const l = luma(image[p], image[p + 1], image[p + 2]);
    for (let k = 0; k < 3; k++) image[p + k] = clamp01(l + (image[p + k] - l) * factor);
  }
}

/** In place, torchvision adjust_hue: rotate the hue by `shift` turns (shift in [-0.5, 0.5]). */
export function adjustHueInPlace(image: Float32Array, shift: number): void {
  for (let p = 0; p < image.length; p += 3) {
    const r = image[p];
    const g = image[p + 1];
    const b = image[p + 2];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const delta = max - min;
    if (delta === 0) continue; // grey: hue is undefined and unchanged
    let h: number;
    if (max === r) h = ((g - b) / delta) % 6;
    else if (max === g) h = (b - r) / delta + 2;
    else h = (r - g) / delta + 4;
    h = (((h / 6 + shift) % 1) + 1) % 1;
    const s = delta / max;
    const v = max;
    const h6 = h * 6;
    const i = Math.floor(h6) % 6;
    const f = h6 - Math.floor(h6);
    const pp = v * (1 - s);
    const q = v * (1 - s * f);
    const t = v * (1 - s * (1 - f));
    const rgb = [
      [v, t, pp],
      [q, v, pp],
      [pp, v, t],
      [pp, q, v],
      [t, pp, v],
      [v, pp, q],
    ][i];
    image[p] = rgb[0];
    image[p + 1] = rgb[1];
    image[p + 2] = rgb[2];
  }
}

/** Separable Gaussian blur (radius ceil(3 sigma), edges clamped); returns a new image. */
export function gaussianBlur(image: Float32Array, width: number, height: number, sigma: number, channels = 3): Float32Array {
  checkImage(image, width, height, channels);
  if (!(sigma > 0)) return image.slice();
  const radius = Math.max(1, Math.ceil(3 * sigma));
  const kernel = new Float32Array(2 * radius + 1);
  let total = 0;
  for (let t = -radius; t <= radius; t++) {
    const v = Math.exp(-(t * t) / (2 * sigma * sigma));
    kernel[t + radius] = v;
    total += v;
  }
  for (let t = 0; t < kernel.length; t++) kernel[t] /= total;
  const tmp = new Float32Array(image.length);
  const out = new Float32Array(image.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < channels; k++) {
        let acc = 0;
        for (let t = -radius; t <= radius; t++) {
          const xx = Math.min(Math.max(x + t, 0), width - 1);
          acc += kernel[t + radius] * image[(y * width + xx) * channels + k];
        }
        tmp[(y * width + x) * channels + k] = acc;
      }
    }
  }
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let k = 0; k < channels; k++) {
        let acc = 0;
        for (let t = -radius; t <= radius; t++) {
          const yy = Math.min(Math.max(y + t, 0), height - 1);
          acc += kernel[t + radius] * tmp[(yy * width + x) * channels + k];
        }
        out[(y * width + x) * channels + k] = acc;
      }
    }
  }
  return out;
}

/** In place horizontal mirror. */
export function flipHorizontalInPlace(image: Float32Array, width: number, height: number, channels = 3): void {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width >> 1; x++) {
      const a = (y * width + x) * channels;
      const b = (y * width + (width - 1 - x)) * channels;
      for (let k = 0; k < channels; k++) {
        const t = image[a + k];
        image[a + k] = image[b + k];
        image[b + k] = t;
      }
    }
  }
}
