/**
 * Phase 2 of the world, as one call the demo can make: sample answers from the base model on
 * the "pairs" split, judge them against the ground truth, and write the result as an ordinary
 * preference dataset folder (dataset.ts) plus build-report.json (what was dropped and why).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Vlm } from '../model/model';
import type { WordTokenizer } from '../model/tokenizer';
import { sampler } from './answerers';
import { writePreferenceDataset, type SilkieRecord } from './dataset';
import { buildPairs, type BuiltPairs } from './pairs';
import { objectStats } from './pope';
import type { SceneOptions } from './scene';
import { pairScenes, sftScenes } from './splits';

export interface WorldPreferenceOptions {
  model: Vlm;
  tokenizer: WordTokenizer;
  seed: number;
  /** Scenes of the "pairs" split to sample on (default 400). */
  scenes?: number;
  /** Samples per question (default 4). */
  samplesPerQuestion?: number;
  /** Sampling temperature (default 1). */
  temperature?: number;
  /** Adversarial POPE questions per scene besides the description (default 0). */
  popePerScene?: number;
  /** Where to write the dataset; omitted = build in memory only. */
  dir?: string;
  sceneOptions?: SceneOptions;
  /** Questions per generate() call (default 32). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface WorldPreferenceResult extends BuiltPairs {
  records: SilkieRecord[] | null;
  seconds: number;
}

export async function buildWorldPreferenceDataset(o: WorldPreferenceOptions): Promise<WorldPreferenceResult> {
  const started = Date.now();
  const popePerScene = o.popePerScene ?? 0;
  const built = await buildPairs({
    scenes: pairScenes(o.seed, o.scenes ?? 400, o.sceneOptions),
    sample: sampler(o.model, o.tokenizer, o.seed, o.temperature ?? 1),
    samplesPerQuestion: o.samplesPerQuestion ?? 4,
    popePerScene,
    // Popular/adversarial rankings come from the SFT scenes, as in evaluation.
    stats: popePerScene > 0 ? objectStats(sftScenes(o.seed, 2000, o.sceneOptions)) : undefined,
    seed: o.seed,
    batchSize: o.batchSize,
    onProgress: o.onProgress,
  });
  let records: SilkieRecord[] | null = null;
  if (o.dir && built.pairs.length > 0) {
    records = await writePreferenceDataset(o.dir, built.pairs);
    const report = { summary: built.summary, dropped: built.dropped, settings: { seed: o.seed, scenes: o.scenes ?? 400, samplesPerQuestion: o.samplesPerQuestion ?? 4, temperature: o.temperature ?? 1, popePerScene } };
    await writeFile(path.join(o.dir, 'build-report.json'), JSON.stringify(report, null, 1) + '\n');
  }
  return { ...built, records, seconds: (Date.now() - started) / 1000 };
}
