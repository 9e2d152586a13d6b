/**
 * The object vocabulary of the built-in world (docs/world.md): an object is a (color, shape) pair.
 *
 * Six colors that stay far apart in RGB and six shapes that stay tell-apart at 32x32 with
 * objects about 10 px wide. Object keys ("red circle") are the currency every other file
 * uses: annotations, metrics and the parser all compare keys, so synonyms never arise.
 */

export const COLORS = ['red', 'orange', 'yellow', 'green', 'blue', 'purple'] as const;
export const SHAPES = ['circle', 'square', 'triangle', 'cross', 'ring', 'bar'] as const;

export type Color = (typeof COLORS)[number];
export type Shape = (typeof SHAPES)[number];

export interface WorldObject {
  color: Color;
  shape: Shape;
}

/** Pure RGB per color; scenes jitter the brightness slightly so the model cannot match bytes. */
export const COLOR_RGB: Readonly<Record<Color, readonly [number, number, number]>> = {
  red: [220, 40, 40],
  orange: [245, 140, 20],
  yellow: [240, 225, 50],
  green: [40, 175, 70],
  blue: [50, 90, 230],
  purple: [155, 60, 200],
};

/** "red circle": the canonical name of an object, used as its identity everywhere. */
export function objectKey(object: WorldObject): string {
  return `${object.color} ${object.shape}`;
}

export function isColor(word: string): word is Color {
  return (COLORS as readonly string[]).includes(word);
}

export function isShape(word: string): word is Shape {
  return (SHAPES as readonly string[]).includes(word);
}

/** Inverse of objectKey; throws on anything that is not "<color> <shape>". */
export function parseObjectKey(key: string): WorldObject {
  const [color, shape, ...rest] = key.trim().split(/\s+/);
  if (rest.length > 0 || !isColor(color) || !isShape(shape)) {
    throw new Error(`Expected an object key like "red circle", but got "${key}"`);
  }
  return { color, shape };
}

/** All 36 objects, color-major, in a fixed order (used for uniform draws). */
export const ALL_OBJECTS: readonly WorldObject[] = COLORS.flatMap((color) => SHAPES.map((shape) => ({ color, shape })));

export const ALL_OBJECT_KEYS: readonly string[] = ALL_OBJECTS.map(objectKey);

/** "a" or "an" before a word, so captions read as English ("an orange ring"). */
export function article(word: string): 'a' | 'an' {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}
