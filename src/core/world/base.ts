/**
 * The base model of the built-in world (SHAPES.md): the project's own VLM at BUILTIN_SMALL
 * size, trained from a seeded random init by supervised fine-tuning on captions (15% noisy),
 * POPE questions and counts. Seeded end to end (init, data, order), so the same options give
 * the same weights on the same backend. The shipped checkpoint lives in resources/base-model/
 * and scripts/world-base.ts reproduces it.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUILTIN_SMALL, withOverrides, type VlmConfig } from '../model/config';
import { saveCheckpoint } from '../model/checkpoint';
import { Vlm } from '../model/model';
import { WordTokenizer } from '../model/tokenizer';
import { Rng } from '../rng';
import { trainSft, type LoopHooks, type SftExample, type SftSource, type TrainResult } from '../train';
import { sceneImage } from './render';
import { sftExamples, type WorldExample } from './sft';
import { worldVocabulary } from './vocabulary';

/** The world's word-level tokenizer: specials, then the sorted lowercase world words. */
export function worldTokenizer(): WordTokenizer {
  return WordTokenizer.fromCorpus(worldVocabulary());
}

/** World examples as the training loop's SFT source (images rendered once per scene). */
export function worldSftSource(examples: readonly WorldExample[], tokenizer: WordTokenizer): SftSource {
  if (examples.length === 0) throw new Error('Expected at least one SFT example, but got none');
  const size = examples[0].scene.imageSize;
  const images = new Map<string, Float32Array>();
  const encoded: SftExample[] = examples.map((e, i) => {
    if (e.scene.imageSize !== size) throw new Error(`Expected every scene to be ${size}x${size}, but ${e.scene.id} is ${e.scene.imageSize}`);
    let image = images.get(e.scene.id);
    if (!image) images.set(e.scene.id, (image = sceneImage(e.scene)));
    const answerIds = [...tokenizer.encode(e.answer), tokenizer.specials.eos];
    const promptIds = tokenizer.encode(e.prompt);
    if ([...promptIds, ...answerIds].includes(tokenizer.specials.unk)) throw new Error(`Example ${i} has a word outside the tokenizer: "${e.prompt}" -> "${e.answer}"`);
    return { id: `${e.scene.id}/${i}`, image, promptIds, answerIds };
  });
  return { size: encoded.length, imageShape: [size, size], example: (i) => encoded[i] };
}

export interface WorldBaseOptions {
  seed: number;
  /** Scenes of the "sft" split (default 3000). */
  scenes?: number;
  /** Share of noisy captions (default 0.15). */
  noiseRate?: number;
  epochs?: number;
  learningRate?: number;
  batchSize?: number;
  gradAccum?: number;
  /** Stop after this many optimizer steps (null: epochs decide). */
  maxSteps?: number | null;
  /** Model config (default BUILTIN_SMALL with the world tokenizer's vocabulary size). */
  config?: VlmConfig;
  hooks?: LoopHooks;
  /** Called with the model before training starts (e.g. to snapshot it from a hook). */
  onModel?: (model: Vlm, tokenizer: WordTokenizer) => void;
}

/** The resolved settings, saved beside the checkpoint so the run can be repeated. */
export interface WorldBaseSettings {
  seed: number;
  scenes: number;
  noiseRate: number;
  epochs: number;
  learningRate: number;
  batchSize: number;
  gradAccum: number;
  maxSteps: number | null;
  examples: number;
}

export interface WorldBase {
  model: Vlm;
  tokenizer: WordTokenizer;
  result: TrainResult;
  settings: WorldBaseSettings;
  seconds: number;
}

/** The built-in model's config for the world tokenizer (vocabSize must cover it). */
export function worldModelConfig(tokenizer: WordTokenizer, base: VlmConfig = BUILTIN_SMALL): VlmConfig {
  if (tokenizer.vocabSize > base.text.vocabSize) {
    throw new Error(`Expected text.vocabSize >= ${tokenizer.vocabSize} (the world tokenizer), but got ${base.text.vocabSize}`);
  }
  const s = tokenizer.specials;
  return withOverrides(base, { tokens: { pad: s.pad, bos: s.bos, eos: s.eos, image: s.image } });
}

export async function trainWorldBase(options: WorldBaseOptions): Promise<WorldBase> {
  const settings: Omit<WorldBaseSettings, 'examples'> = {
    seed: options.seed,
    scenes: options.scenes ?? 3000,
    noiseRate: options.noiseRate ?? 0.15,
    epochs: options.epochs ?? 4,
    learningRate: options.learningRate ?? 3e-3,
    batchSize: options.batchSize ?? 32,
    gradAccum: options.gradAccum ?? 1,
    maxSteps: options.maxSteps ?? null,
  };
  const tokenizer = worldTokenizer();
  const config = worldModelConfig(tokenizer, options.config);
  const examples = sftExamples({ seed: settings.seed, scenes: settings.scenes, noiseRate: settings.noiseRate });
  const source = worldSftSource(examples, tokenizer);
  const model = Vlm.create(config, Rng.derive(settings.seed, 'world/base/init'));
  options.onModel?.(model, tokenizer);
  const started = Date.now();
  const result = await trainSft(
    model,
    source,
    {
      seed: settings.seed,
      epochs: settings.epochs,
      learningRate: settings.learningRate,
      batchSize: settings.batchSize,
      gradAccum: settings.gradAccum,
      maxSteps: settings.maxSteps,
      schedule: 'cosine',
      warmupRatio: 0.05,
      weightDecay: 0.01,
      checkpointDir: null,
    },
    options.hooks,
  );
  return { model, tokenizer, result, settings: { ...settings, examples: examples.length }, seconds: (Date.now() - started) / 1000 };
}

/** config.json + model.safetensors + tokenizer.json, plus world-base.json (how it was made). */
export async function saveWorldBase(dir: string, base: WorldBase, extra: Record<string, unknown> = {}): Promise<void> {
  await saveCheckpoint(dir, base.model, { tokenizer: base.tokenizer, metadata: { source: 'mdpo-studio world base', seed: String(base.settings.seed) } });
  const info = { settings: base.settings, seconds: base.seconds, finalMetrics: base.result.metrics, steps: base.result.step, ...extra };
  await writeFile(path.join(dir, 'world-base.json'), JSON.stringify(info, null, 2) + '\n');
}
