/**
 * Preference pairs from samples (docs/world.md#preference-pairs, Silkie/VLFeedback style): for each scene, sample
 * several answers to "Describe the image." (and optionally POPE questions) from the base model,
 * judge them against the exact ground truth (judge.ts), keep best vs worst, drop ties. The
 * sampler is a plain async function, so this file knows nothing about tensors.
 */
import { Rng } from '../rng';
import type { PreferencePairRecord } from './dataset';
import { DESCRIBE_PROMPT } from './grammar';
import { judgeDescriptions, judgeYesNo } from './judge';
import { scenePopeQuestions, type ObjectStats } from './pope';
import { sceneKeys, type Scene } from './scene';

/** `count` sampled answers to prompts[i] about scenes[i], for every i, in order. */
export type SampleFn = (scenes: readonly Scene[], prompts: readonly string[], count: number) => Promise<string[][]>;

export interface BuildPairsOptions {
  scenes: readonly Scene[];
  sample: SampleFn;
  /** Samples per question (default 4). */
  samplesPerQuestion?: number;
  /** Adversarial POPE questions per scene to sample as well (default 0: descriptions only). */
  popePerScene?: number;
  /** Needed when popePerScene > 0. */
  stats?: ObjectStats;
  seed: number;
  /** Questions per sample() call (default 32). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface DroppedQuestion {
  sceneId: string;
  prompt: string;
  why: string;
}

export interface BuiltPairs {
  pairs: PreferencePairRecord[];
  dropped: DroppedQuestion[];
  /** Questions asked, pairs kept, and the hallucination counts behind them. */
  summary: { questions: number; kept: number; dropped: number; chosenHallucinations: number; rejectedHallucinations: number };
}

export async function buildPairs(options: BuildPairsOptions): Promise<BuiltPairs> {
  const n = options.samplesPerQuestion ?? 4;
  if (!Number.isInteger(n) || n < 2) throw new Error(`Expected samplesPerQuestion to be an integer >= 2, but got ${n}`);
  const popePerScene = options.popePerScene ?? 0;
  if (popePerScene > 0 && !options.stats) throw new Error('Expected stats (objectStats of the SFT scenes) when popePerScene > 0, but got none');
  const batchSize = options.batchSize ?? 32;

  type Q = { scene: Scene; prompt: string; label?: 'yes' | 'no' };
  const questions: Q[] = [];
  for (const scene of options.scenes) {
    questions.push({ scene, prompt: DESCRIBE_PROMPT });
    if (popePerScene > 0) {
      const qs = scenePopeQuestions(scene, 'adversarial', options.stats!, Rng.derive(options.seed, `pairs/pope/${scene.id}`));
      // Alternate yes and no questions so both labels are represented.
      const yes = qs.filter((q) => q.label === 'yes');
      const no = qs.filter((q) => q.label === 'no');
      const mixed = yes.flatMap((q, i) => (no[i] ? [q, no[i]] : [q]));
      for (const q of mixed.slice(0, popePerScene)) questions.push({ scene, prompt: q.prompt, label: q.label });
    }
  }

  const pairs: PreferencePairRecord[] = [];
  const dropped: DroppedQuestion[] = [];
  let chosenHallucinations = 0;
  let rejectedHallucinations = 0;
  for (let i = 0; i < questions.length; i += batchSize) {
    const chunk = questions.slice(i, i + batchSize);
    const samples = await options.sample(chunk.map((q) => q.scene), chunk.map((q) => q.prompt), n);
    if (samples.length !== chunk.length) throw new Error(`Expected samples for ${chunk.length} questions, but got ${samples.length}`);
    chunk.forEach((q, k) => {
      const d = q.label ? judgeYesNo(q.label, samples[k]) : judgeDescriptions(sceneKeys(q.scene), samples[k]);
      if (!d.kept) {
        dropped.push({ sceneId: q.scene.id, prompt: q.prompt, why: d.why });
        return;
      }
      chosenHallucinations += d.chosenScore.hallucinated.length;
      rejectedHallucinations += d.rejectedScore.hallucinated.length;
      pairs.push({
        scene: q.scene,
        prompt: q.prompt,
        chosen: d.chosen,
        rejected: d.rejected,
        why: d.why,
        chosenHallucinated: d.chosenScore.hallucinated,
        rejectedHallucinated: d.rejectedScore.hallucinated,
      });
    });
    options.onProgress?.(Math.min(i + batchSize, questions.length), questions.length);
  }
  return {
    pairs,
    dropped,
    summary: { questions: questions.length, kept: pairs.length, dropped: dropped.length, chosenHallucinations, rejectedHallucinations },
  };
}
