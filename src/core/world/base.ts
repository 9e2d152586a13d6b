/**
 * The base model of the built-in world (docs/world.md): the project's own VLM at BUILTIN_SMALL
 * size, trained from a seeded random init by supervised fine-tuning on captions (15% noisy),
 * POPE questions and counts. Seeded end to end (init, data, order), so the same options give
 * the same weights on the same backend. The shipped checkpoint lives in resources/base-model/
 * and scripts/world-base.ts reproduces it.
 */
import * as tf from '@tensorflow/tfjs-core';
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
import { warmUpVision } from './vision-warmup';
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
  /** Where a noisy caption puts its extra object (default 'random'; see sft.ts). */
  noisePlacement?: 'random' | 'end';
  /** POPE questions per scene (default 2). */
  popePerScene?: number;
  /** Steps of the vision warm-up on patch labels before SFT (default 250; 0 = none). */
  visionSteps?: number;
  /** Keep the vision tower as the warm-up left it during SFT (default false). */
  freezeVision?: boolean;
  epochs?: number;
  learningRate?: number;
  batchSize?: number;
  gradAccum?: number;
  /** Stop after this many optimizer steps (null: epochs decide). */
  maxSteps?: number | null;
  /** Model config (default BUILTIN_SMALL with the world tokenizer's vocabulary size). */
  config?: VlmConfig;
  hooks?: LoopHooks;
  onVisionStep?: (step: number, loss: number, accuracy: number) => void;
  /** Called with the model before training starts (e.g. to snapshot it from a hook). */
  onModel?: (model: Vlm, tokenizer: WordTokenizer) => void;
}

/** The resolved settings, saved beside the checkpoint so the run can be repeated. */
export interface WorldBaseSettings {
  seed: number;
  scenes: number;
  noiseRate: number;
  noisePlacement: 'random' | 'end';
  popePerScene: number;
  visionSteps: number;
  freezeVision: boolean;
  visionWarmup: { loss: number; accuracy: number } | null;
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

/**
 * Re-draws the vision tower's and connector's matrices with std 1/sqrt(fan_in).
 * Why: the HF-style normal(0, 0.02) init assumes a pretrained vision tower. Trained from scratch
 * at this size, the image-dependent part of the image embeddings starts far below the token
 * embeddings, and SFT learns the caption prior without ever looking: measured with the 0.02
 * init, after 200 steps (12,800 examples) the log-prob of a caption was the same to 0.01 nats
 * with the right image and with another one. Position embeddings and norms keep their init.
 */
export function fanInVisionInit(model: Vlm, rng: Rng): void {
  for (const [name, v] of model.params.entries()) {
    const vision = name.startsWith('vision_tower.') || name.startsWith('multi_modal_projector.');
    if (!vision || !name.endsWith('.weight') || v.shape.length < 2 || name.includes('position_embedding')) continue;
    const fanIn = v.shape.slice(1).reduce((a, b) => a * b, 1);
    const data = new Float32Array(v.size);
    for (let i = 0; i < data.length; i++) data[i] = rng.normal() / Math.sqrt(fanIn);
    const t = tf.tensor(data, v.shape);
    v.assign(t);
    t.dispose();
  }
}

export async function trainWorldBase(options: WorldBaseOptions): Promise<WorldBase> {
  const settings: Omit<WorldBaseSettings, 'examples' | 'visionWarmup'> = {
    seed: options.seed,
    scenes: options.scenes ?? 3000,
    noiseRate: options.noiseRate ?? 0.15,
    noisePlacement: options.noisePlacement ?? 'random',
    popePerScene: options.popePerScene ?? 2,
    visionSteps: options.visionSteps ?? 250,
    freezeVision: options.freezeVision ?? false,
    epochs: options.epochs ?? 4,
    learningRate: options.learningRate ?? 3e-3,
    batchSize: options.batchSize ?? 32,
    gradAccum: options.gradAccum ?? 1,
    maxSteps: options.maxSteps ?? null,
  };
  const tokenizer = worldTokenizer();
  const config = worldModelConfig(tokenizer, options.config);
  const examples = sftExamples({ seed: settings.seed, scenes: settings.scenes, noiseRate: settings.noiseRate, noisePlacement: settings.noisePlacement, popePerScene: settings.popePerScene });
  const source = worldSftSource(examples, tokenizer);
  const model = Vlm.create(config, Rng.derive(settings.seed, 'world/base/init'));
  fanInVisionInit(model, Rng.derive(settings.seed, 'world/base/init-vision'));
  options.onModel?.(model, tokenizer);
  const started = Date.now();
  const visionWarmup =
    settings.visionSteps > 0
      ? await warmUpVision(model, { seed: settings.seed, steps: settings.visionSteps, onStep: options.onVisionStep })
      : null;
  // SFT otherwise re-learns the tower from the caption loss and loses shape (README, measured candidates).
  if (settings.freezeVision) model.freezeBase(['vision_tower.']);
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
  return { model, tokenizer, result, settings: { ...settings, visionWarmup, examples: examples.length }, seconds: (Date.now() - started) / 1000 };
}

/** config.json + model.safetensors + tokenizer.json, plus world-base.json (how it was made). */
export async function saveWorldBase(dir: string, base: WorldBase, extra: Record<string, unknown> = {}): Promise<void> {
  await saveCheckpoint(dir, base.model, { tokenizer: base.tokenizer, metadata: { source: 'mdpo-studio world base', seed: String(base.settings.seed) } });
  const info = { settings: base.settings, seconds: base.seconds, finalMetrics: base.result.metrics, steps: base.result.step, ...extra };
  await writeFile(path.join(dir, 'world-base.json'), JSON.stringify(info, null, 2) + '\n');
}
