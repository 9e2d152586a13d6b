/**
 * The world's standard splits. Each split name is part of every scene's generator label, so
 * splits share no stream: SFT scenes, pair scenes and held-out evaluation scenes never
 * coincide by construction (only by chance could two scenes look alike).
 */
import { generateScenes, type Scene, type SceneOptions } from './scene';

export const SPLITS = { sft: 'sft', pairs: 'pairs', eval: 'eval', single: 'single' } as const;

/** Scenes for preference pairs: never used for SFT or evaluation. */
export function pairScenes(seed: number, count: number, options: SceneOptions = {}): Scene[] {
  return generateScenes(seed, SPLITS.pairs, count, options);
}

/** Held-out scenes for evaluation: never used for SFT or pairs. */
export function evalScenes(seed: number, count: number, options: SceneOptions = {}): Scene[] {
  return generateScenes(seed, SPLITS.eval, count, options);
}

/** The scenes SFT trains on (same ones sftExamples draws). */
export function sftScenes(seed: number, count: number, options: SceneOptions = {}): Scene[] {
  return generateScenes(seed, SPLITS.sft, count, options);
}

/**
 * Held-out scenes with exactly one object, for the per-object perception probe (perception.ts):
 * drawn like every scene (theme, then object, size, colors) from their own split, never used
 * for SFT, pairs or the other evaluations.
 */
export function singleObjectScenes(seed: number, count: number, options: SceneOptions = {}): Scene[] {
  return generateScenes(seed, SPLITS.single, count, { ...options, minObjects: 1, maxObjects: 1 });
}
