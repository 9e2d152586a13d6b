/**
 * Scene sampling: which objects a scene holds, where, and on what background. Pure data; the
 * pixels come from render.ts. Scene `i` of split `s` is drawn from Rng.derive(seed, label),
 * so it does not depend on how many other scenes are drawn, and splits ("sft", "pairs",
 * "eval") never share a stream: held-out scenes stay held out.
 */
import { Rng } from '../rng';
import { ALL_OBJECTS, COLOR_RGB, objectKey, type WorldObject } from './objects';
import { THEMES, type Theme } from './themes';

export interface SceneObject extends WorldObject {
  /** Bounding box in pixels: top-left corner (x, y), width w, height h. */
  x: number;
  y: number;
  w: number;
  h: number;
  /** Fill color after the scene's brightness jitter. */
  rgb: [number, number, number];
}

export interface Scene {
  /** Unique within a seed: "<split>-<index>", also the PNG's file stem. */
  id: string;
  imageSize: number;
  theme: string;
  background: [number, number, number];
  /** Amplitude of the per-pixel background texture (0 = plain). */
  texture: number;
  /** Seed of the texture noise, so rendering is a pure function of the scene. */
  textureSeed: number;
  /** Left to right (by box center x, then y): the order captions use. */
  objects: SceneObject[];
}

export interface SceneOptions {
  /** Width = height in pixels (default 32). */
  imageSize?: number;
  minObjects?: number;
  maxObjects?: number;
  /** Chance that an object is drawn from outside the scene's theme (default 0.15). */
  offThemeRate?: number;
  /** Largest background texture amplitude (default 10; 0 gives plain backgrounds). */
  maxTexture?: number;
}

export interface ResolvedSceneOptions {
  imageSize: number;
  minObjects: number;
  maxObjects: number;
  offThemeRate: number;
  maxTexture: number;
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`Expected ${name} to be a positive integer, but got ${value}`);
  return value;
}

export function resolveSceneOptions(options: SceneOptions = {}): ResolvedSceneOptions {
  const imageSize = positiveInt('imageSize', options.imageSize ?? 32);
  if (imageSize < 16) throw new Error(`Expected imageSize to be at least 16 (shapes need room), but got ${imageSize}`);
  const minObjects = positiveInt('minObjects', options.minObjects ?? 1);
  const maxObjects = positiveInt('maxObjects', options.maxObjects ?? 4);
  if (maxObjects < minObjects || maxObjects > 4) {
    throw new Error(`Expected 1 <= minObjects <= maxObjects <= 4, but got ${minObjects} and ${maxObjects}`);
  }
  const offThemeRate = options.offThemeRate ?? 0.15;
  if (!(offThemeRate >= 0 && offThemeRate <= 1)) throw new Error(`Expected offThemeRate in [0, 1], but got ${offThemeRate}`);
  const maxTexture = options.maxTexture ?? 10;
  if (!(maxTexture >= 0 && maxTexture <= 40)) throw new Error(`Expected maxTexture in [0, 40], but got ${maxTexture}`);
  return { imageSize, minObjects, maxObjects, offThemeRate, maxTexture };
}

/** Index drawn with probability proportional to weights. */
export function weightedIndex(rng: Rng, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0);
  let u = rng.next() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i];
    if (u < 0) return i;
  }
  // Rounding can leave u at ~0 after the loop: fall back to the last index with weight.
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
  throw new Error('Expected at least one positive weight, but got none');
}

/** Distinct objects: mostly the theme's typical ones (weighted), sometimes any other. */
function sampleObjects(rng: Rng, theme: Theme, count: number, offThemeRate: number): WorldObject[] {
  const chosen: WorldObject[] = [];
  const used = new Set<string>();
  const typical = new Set(theme.objects.map(objectKey));
  while (chosen.length < count) {
    let object: WorldObject;
    if (rng.next() < offThemeRate) {
      object = rng.pick(ALL_OBJECTS.filter((o) => !typical.has(objectKey(o)) && !used.has(objectKey(o))));
    } else {
      const free = theme.objects.map((o, i) => (used.has(objectKey(o)) ? 0 : theme.objectWeights[i]));
      if (free.every((w) => w === 0)) continue; // all typical used: the next draw goes off-theme or retries
      object = theme.objects[weightedIndex(rng, free)];
    }
    used.add(objectKey(object));
    chosen.push(object);
  }
  return chosen;
}

/** Non-overlapping boxes with a 1 px gap, by rejection; restarts the layout when stuck. */
function placeBoxes(rng: Rng, imageSize: number, count: number): Array<{ x: number; y: number; w: number; h: number }> {
  // About 30% of the side: ~10 px at 32x32, big enough for a ring's hole to show.
  const base = Math.max(6, Math.round(imageSize * 0.3));
  for (let attempt = 0; attempt < 1000; attempt++) {
    const boxes: Array<{ x: number; y: number; w: number; h: number }> = [];
    for (let tries = 0; boxes.length < count && tries < 200; tries++) {
      const side = base - 1 + rng.int(3);
      const x = 1 + rng.int(imageSize - side - 1);
      const y = 1 + rng.int(imageSize - side - 1);
      const clear = boxes.every((b) => x + side + 1 <= b.x || b.x + b.w + 1 <= x || y + side + 1 <= b.y || b.y + b.h + 1 <= y);
      if (clear) boxes.push({ x, y, w: side, h: side });
    }
    if (boxes.length === count) return boxes;
  }
  throw new Error(`Could not place ${count} objects in a ${imageSize}x${imageSize} image`);
}

function jitter(rng: Rng, rgb: readonly [number, number, number], amount: number): [number, number, number] {
  const d = Math.round(rng.uniform(-amount, amount));
  return rgb.map((v) => Math.max(0, Math.min(255, v + d))) as [number, number, number];
}

/** One scene from its own generator. */
export function sampleScene(rng: Rng, id: string, options: SceneOptions = {}): Scene {
  const o = resolveSceneOptions(options);
  const theme = THEMES[weightedIndex(rng, THEMES.map((t) => t.weight))];
  const count = o.minObjects + rng.int(o.maxObjects - o.minObjects + 1);
  const objects = sampleObjects(rng, theme, count, o.offThemeRate);
  const boxes = placeBoxes(rng, o.imageSize, count);
  const placed: SceneObject[] = objects.map((object, i) => ({ ...object, ...boxes[i], rgb: jitter(rng, COLOR_RGB[object.color], 12) }));
  placed.sort((a, b) => a.x + a.w / 2 - (b.x + b.w / 2) || a.y - b.y);
  // Dark, slightly tinted grey: every object color stands out from it.
  const grey = 35 + rng.int(30);
  const background: [number, number, number] = [grey + rng.int(10), grey + rng.int(10), grey + rng.int(10)];
  const texture = Math.round(rng.next() * o.maxTexture);
  return { id, imageSize: o.imageSize, theme: theme.name, background, texture, textureSeed: rng.nextUint32(), objects: placed };
}

/** Split names become part of every scene's generator label; keep them simple. */
function checkSplit(split: string): string {
  if (!/^[a-z][a-z0-9]*$/.test(split)) throw new Error(`Expected split to be a lowercase word like "eval", but got "${split}"`);
  return split;
}

/** Scene `index` of `split` under `seed`: the same inputs always give the same scene. */
export function sceneAt(seed: number, split: string, index: number, options: SceneOptions = {}): Scene {
  if (!Number.isInteger(index) || index < 0) throw new Error(`Expected index to be a non-negative integer, but got ${index}`);
  return sampleScene(Rng.derive(seed, `world/${checkSplit(split)}/${index}`), `${split}-${index}`, options);
}

/** `count` scenes of a split, indices start..start+count-1. */
export function generateScenes(seed: number, split: string, count: number, options: SceneOptions = {}, start = 0): Scene[] {
  if (!Number.isInteger(count) || count < 0) throw new Error(`Expected count to be a non-negative integer, but got ${count}`);
  return Array.from({ length: count }, (_, i) => sceneAt(seed, split, start + i, options));
}

/** Object keys present in a scene, left to right. */
export function sceneKeys(scene: Scene): string[] {
  return scene.objects.map(objectKey);
}
