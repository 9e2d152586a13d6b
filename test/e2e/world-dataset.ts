/**
 * The built-in world's preference dataset for the browser test, written to disk in the
 * ordinary mDPO/Silkie layout the import path reads (images/*.png, data.json,
 * annotations.json). Pairs come from the world's own judge over a ground-truth sampler: the
 * scene's true caption and noisy captions with a theme-typical absent object slipped in (the
 * same noise the base model's SFT data has), so chosen/rejected are exact.
 */
import { Rng } from '../../src/core/rng';
import { buildPairs, injectedObject, pairScenes, sceneCaption, writePreferenceDataset, type SampleFn } from '../../src/core/world';

export async function writeWorldDataset(dir: string, scenes = 24, seed = 7): Promise<number> {
  const sample: SampleFn = async (list, _prompts, count) =>
    list.map((scene) => {
      const rng = Rng.derive(seed, `e2e/${scene.id}`);
      return Array.from({ length: count }, (_, i) => {
        const extra = i % 2 === 1 ? injectedObject(scene, rng) : undefined;
        return sceneCaption(scene, extra, extra ? rng : undefined);
      });
    });
  const built = await buildPairs({ scenes: pairScenes(seed, scenes), sample, samplesPerQuestion: 4, seed });
  await writePreferenceDataset(dir, built.pairs);
  return built.pairs.length;
}
