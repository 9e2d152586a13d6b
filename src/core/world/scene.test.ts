import { describe, expect, it } from 'vitest';
import { generateScenes, sceneAt, sceneKeys, resolveSceneOptions } from './scene';
import { scenePng } from './render';
import { evalScenes, pairScenes, sftScenes } from './splits';
import { THEMES, typicalKeys } from './themes';
import { ALL_OBJECT_KEYS } from './objects';

describe('scenes', () => {
  it('are reproducible to the PNG byte and differ across seeds and splits', async () => {
    const a = sceneAt(7, 'eval', 3);
    expect(sceneAt(7, 'eval', 3)).toEqual(a);
    expect(Buffer.compare(await scenePng(a), await scenePng(sceneAt(7, 'eval', 3)))).toBe(0);
    expect(sceneAt(8, 'eval', 3)).not.toEqual(a);
    expect(sceneAt(7, 'sft', 3).objects).not.toEqual(a.objects);
    // Scene i does not depend on how many scenes are drawn.
    expect(generateScenes(7, 'eval', 5)[3]).toEqual(a);
  });

  it('hold 1-4 distinct objects in non-overlapping boxes inside the image, left to right', () => {
    for (const size of [32, 48]) {
      for (const s of generateScenes(1, 'check', 300, { imageSize: size })) {
        expect(s.objects.length).toBeGreaterThanOrEqual(1);
        expect(s.objects.length).toBeLessThanOrEqual(4);
        expect(new Set(sceneKeys(s)).size).toBe(s.objects.length);
        for (const [i, o] of s.objects.entries()) {
          expect(o.x).toBeGreaterThanOrEqual(0);
          expect(o.y).toBeGreaterThanOrEqual(0);
          expect(o.x + o.w).toBeLessThanOrEqual(size);
          expect(o.y + o.h).toBeLessThanOrEqual(size);
          if (i > 0) expect(o.x + o.w / 2).toBeGreaterThanOrEqual(s.objects[i - 1].x + s.objects[i - 1].w / 2);
          for (const p of s.objects.slice(i + 1)) {
            const apart = o.x + o.w <= p.x || p.x + p.w <= o.x || o.y + o.h <= p.y || p.y + p.h <= o.y;
            expect(apart).toBe(true);
          }
        }
      }
    }
  });

  it('follow the theme prior: mostly typical objects, every theme and count used', () => {
    const scenes = generateScenes(2, 'prior', 2000);
    let typical = 0;
    let total = 0;
    for (const s of scenes) {
      const t = new Set(typicalKeys(s.theme));
      for (const k of sceneKeys(s)) {
        total++;
        if (t.has(k)) typical++;
      }
    }
    // 85% drawn from the theme, never twice: measured share lands near 0.85.
    expect(typical / total).toBeGreaterThan(0.8);
    expect(typical / total).toBeLessThan(0.9);
    expect(new Set(scenes.map((s) => s.theme)).size).toBe(THEMES.length);
    expect(new Set(scenes.map((s) => s.objects.length))).toEqual(new Set([1, 2, 3, 4]));
    expect(new Set(scenes.flatMap(sceneKeys)).size).toBe(ALL_OBJECT_KEYS.length);
  });

  it('keep standard splits apart', () => {
    const ids = (xs: { id: string }[]): string[] => xs.map((x) => x.id);
    expect(ids(sftScenes(1, 2))).toEqual(['sft-0', 'sft-1']);
    expect(ids(pairScenes(1, 2))).toEqual(['pairs-0', 'pairs-1']);
    expect(ids(evalScenes(1, 2))).toEqual(['eval-0', 'eval-1']);
    expect(evalScenes(1, 1)[0].objects).not.toEqual(sftScenes(1, 1)[0].objects);
  });

  it('reject bad options with plain errors', () => {
    expect(() => resolveSceneOptions({ imageSize: 0 })).toThrow('Expected imageSize to be a positive integer, but got 0');
    expect(() => resolveSceneOptions({ imageSize: 8 })).toThrow('at least 16');
    expect(() => resolveSceneOptions({ minObjects: 3, maxObjects: 2 })).toThrow('minObjects <= maxObjects');
    expect(() => resolveSceneOptions({ offThemeRate: 2 })).toThrow('offThemeRate');
    expect(() => sceneAt(1, 'Bad Split', 0)).toThrow('Expected split');
    expect(() => sceneAt(1, 'eval', -1)).toThrow('Expected index');
  });
});
