/**
 * Pixels of a scene: an RGB raster (Uint8Array, row-major [H, W, 3]) drawn by hand, and its
 * PNG bytes through sharp. Rendering is a pure function of the Scene, so the same seed gives
 * the same bytes (sharp's PNG encoder is deterministic for fixed options).
 */
import sharp from 'sharp';
import { Rng } from '../rng';
import type { Shape } from './objects';
import type { Scene } from './scene';

/**
 * Whether pixel (px, py) of a w x h box belongs to the shape. Coordinates are pixel centers
 * relative to the box center, in units of the half-side, so shapes scale with the box.
 */
export function shapeCovers(shape: Shape, px: number, py: number, w: number, h: number): boolean {
  const u = (px + 0.5 - w / 2) / (w / 2); // -1..1, left to right
  const v = (py + 0.5 - h / 2) / (h / 2); // -1..1, top to bottom
  const r2 = u * u + v * v;
  switch (shape) {
    case 'circle':
      return r2 <= 1.0;
    case 'ring':
      // The hole is half the radius: wide enough to stay open at 9-11 px.
      return r2 <= 1.0 && r2 >= 0.3;
    case 'square':
      return Math.abs(u) <= 0.85 && Math.abs(v) <= 0.85;
    case 'triangle': {
      // Apex at the top, flat base at the bottom.
      const t = (v + 1) / 2; // 0 at top, 1 at bottom
      return v <= 0.9 && Math.abs(u) <= t * 0.95 + 0.05;
    }
    case 'cross':
      return (Math.abs(u) <= 0.3 && Math.abs(v) <= 1) || (Math.abs(v) <= 0.3 && Math.abs(u) <= 1);
    case 'bar':
      // Horizontal, a third of the height: unlike any other shape's outline.
      return Math.abs(v) <= 0.34 && Math.abs(u) <= 1;
  }
}

/** The scene as RGB bytes, [imageSize, imageSize, 3] row-major. */
export function renderScene(scene: Scene): Uint8Array {
  const n = scene.imageSize;
  const out = new Uint8Array(n * n * 3);
  const noise = new Rng(scene.textureSeed);
  for (let i = 0; i < n * n; i++) {
    const d = scene.texture > 0 ? Math.round(noise.uniform(-scene.texture, scene.texture)) : 0;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.max(0, Math.min(255, scene.background[c] + d));
  }
  for (const o of scene.objects) {
    for (let py = 0; py < o.h; py++) {
      for (let px = 0; px < o.w; px++) {
        if (!shapeCovers(o.shape, px, py, o.w, o.h)) continue;
        const i = ((o.y + py) * n + (o.x + px)) * 3;
        out[i] = o.rgb[0];
        out[i + 1] = o.rgb[1];
        out[i + 2] = o.rgb[2];
      }
    }
  }
  return out;
}

/** PNG bytes of an RGB raster. Fixed encoder options keep the bytes reproducible. */
export async function encodePng(raster: Uint8Array, width: number, height: number): Promise<Buffer> {
  if (raster.length !== width * height * 3) {
    throw new Error(`Expected an RGB raster of ${width * height * 3} bytes, but got ${raster.length}`);
  }
  return sharp(Buffer.from(raster.buffer, raster.byteOffset, raster.byteLength), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 9, adaptiveFiltering: false, palette: false })
    .toBuffer();
}

export async function scenePng(scene: Scene): Promise<Buffer> {
  return encodePng(renderScene(scene), scene.imageSize, scene.imageSize);
}

/** Decodes a PNG back to RGB bytes (drops alpha); used by tests and by callers holding files. */
export async function decodePng(png: Buffer): Promise<{ raster: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { raster: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** The scene as the training loop's image: Float32 [H, W, 3] RGB in [0, 1]. */
export function sceneImage(scene: Scene): Float32Array {
  const raster = renderScene(scene);
  const out = new Float32Array(raster.length);
  for (let i = 0; i < raster.length; i++) out[i] = raster[i] / 255;
  return out;
}
