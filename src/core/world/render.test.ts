import { describe, expect, it } from 'vitest';
import { SHAPES } from './objects';
import { decodePng, renderScene, scenePng, shapeCovers } from './render';
import { generateScenes } from './scene';

function mask(shape: (typeof SHAPES)[number], side: number): boolean[] {
  const out: boolean[] = [];
  for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) out.push(shapeCovers(shape, x, y, side, side));
  return out;
}

describe('render', () => {
  it('draws six shapes that differ in many pixels at the smallest size', () => {
    for (const side of [9, 10, 11]) {
      const masks = SHAPES.map((s) => mask(s, side));
      for (let i = 0; i < masks.length; i++) {
        expect(masks[i].filter(Boolean).length).toBeGreaterThan(side); // visible
        for (let j = i + 1; j < masks.length; j++) {
          const differ = masks[i].filter((v, k) => v !== masks[j][k]).length;
          expect(differ, `${SHAPES[i]} vs ${SHAPES[j]} at ${side}px`).toBeGreaterThanOrEqual(12);
        }
      }
    }
  });

  it('paints each object in its color on the background', () => {
    for (const s of generateScenes(3, 'paint', 20)) {
      const r = renderScene(s);
      expect(r.length).toBe(s.imageSize * s.imageSize * 3);
      for (const o of s.objects) {
        // A pixel inside every shape: the middle of the left edge's row for bars and crosses,
        // just right of center for rings (whose center is a hole).
        const px = o.x + Math.floor(o.w / 2) + (o.shape === 'ring' ? Math.floor(o.w / 2) - 1 : 0);
        const py = o.y + Math.floor(o.h / 2);
        const i = (py * s.imageSize + px) * 3;
        expect([r[i], r[i + 1], r[i + 2]]).toEqual(o.rgb);
      }
    }
  });

  it('writes real PNGs that decode to the same raster', async () => {
    const s = generateScenes(4, 'png', 1, { imageSize: 48 })[0];
    const png = await scenePng(s);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const back = await decodePng(png);
    expect(back.width).toBe(48);
    expect(back.height).toBe(48);
    expect(Buffer.compare(Buffer.from(back.raster), Buffer.from(renderScene(s)))).toBe(0);
  });
});
