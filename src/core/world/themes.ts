/**
 * Themes: the co-occurrence prior of the world (docs/world.md). Like forks that come with knives,
 * a scene drawn from a theme mostly holds that theme's typical objects, so a language model
 * can learn which objects go together without looking at the image. That learnable prior is
 * what the noisy captions turn into hallucinations.
 *
 * Weights are deliberately unequal (themes and objects within a theme), so that "popular"
 * objects exist for POPE's popular setting and differ from a scene's theme-typical ones.
 */
import { objectKey, parseObjectKey, type WorldObject } from './objects';

export interface Theme {
  name: string;
  /** Probability of drawing a scene from this theme (weights sum to 1 across themes). */
  weight: number;
  /** Typical objects, most typical first. */
  objects: readonly WorldObject[];
  /** Relative weight of each typical object, same order as `objects`. */
  objectWeights: readonly number[];
}

const TYPICAL_WEIGHTS = [5, 4, 3, 2, 1] as const;

function theme(name: string, weight: number, keys: string[]): Theme {
  return { name, weight, objects: keys.map(parseObjectKey), objectWeights: TYPICAL_WEIGHTS.slice(0, keys.length) };
}

/**
 * Five themes x five typical objects; every typical object belongs to exactly one theme, and
 * 11 of the 36 objects belong to none (they appear only as off-theme objects).
 */
export const THEMES: readonly Theme[] = [
  theme('garden', 0.28, ['green triangle', 'yellow circle', 'red ring', 'purple cross', 'orange bar']),
  theme('harbor', 0.24, ['blue square', 'red circle', 'yellow bar', 'green ring', 'orange triangle']),
  theme('kitchen', 0.2, ['orange circle', 'blue ring', 'red square', 'yellow cross', 'purple bar']),
  theme('workshop', 0.16, ['purple square', 'green bar', 'blue cross', 'orange ring', 'yellow triangle']),
  theme('party', 0.12, ['red triangle', 'purple circle', 'green square', 'blue bar', 'yellow ring']),
];

export function themeByName(name: string): Theme {
  const found = THEMES.find((t) => t.name === name);
  if (!found) throw new Error(`Expected a theme name (${THEMES.map((t) => t.name).join(', ')}), but got "${name}"`);
  return found;
}

/** Keys of a theme's typical objects, most typical first. */
export function typicalKeys(themeName: string): string[] {
  return themeByName(themeName).objects.map(objectKey);
}

/** The theme an object is typical of, or undefined for the 11 objects of no theme. */
export function themeOfObject(key: string): string | undefined {
  return THEMES.find((t) => t.objects.some((o) => objectKey(o) === key))?.name;
}
