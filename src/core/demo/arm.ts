/**
 * One arm of a study: train it with one seed from a fresh copy of the base (LoRA on the
 * language model), or score the base, then evaluate it on the held-out scenes.
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import path from 'node:path';
import { trainConfigSchema, type TrainConfig } from '../../shared/schemas';
import { type BackendInfo } from '../backend';
import { createPreferenceSource, makeNegative, DEFAULT_NEGATIVE, strategyFromConfig, type DatasetPreferenceSource } from '../data';
import { imageReliance, type RelianceReport } from '../eval/reliance';
import { saveAdapter } from '../model/checkpoint';
import { LORA_TARGETS_ALL, preferenceLora } from '../model/lora';
import type { Vlm } from '../model/model';
import { Rng } from '../rng';
import { loopConfigFromShared, pixelBatch, trainPreference } from '../train';
import { continuationScorer, greedyAnswerer } from '../world/answerers';
import { imagePath } from '../world/dataset';
import { evaluateWorld, type WorldEvaluation } from '../world/evaluate';
import { DESCRIBE_PROMPT } from '../world/grammar';
import { sceneImage } from '../world/render';
import { sceneKeys } from '../world/scene';
import { singleObjectScenes } from '../world/splits';
import { negativeLabel, type ArmSpec } from './arms';
import { markAnswer } from './marks';
import { evaluationRows, metricsOf, type Metrics } from './results';
import {
  checkSignal,
  loadBase,
  PhaseClock,
  StudyCancelled,
  WORLD_LEARNING_RATE,
  type ArmRunInfo,
  type OutputRecord,
  type Phase,
  type StudyContext,
  type StudyHooks,
  type StudySettings,
} from './settings';

/** The run as the app would store it: src/shared's TrainConfig with the study's settings. */
export function armTrainConfig(s: StudySettings, arm: ArmSpec, seed: number, datasetId = 1): TrainConfig | null {
  if (arm.variant === 'base') return null;
  return trainConfigSchema.parse({
    name: `${arm.name} (seed ${seed})`,
    datasetId,
    baseModel: path.resolve(s.baseDir),
    variant: arm.variant,
    beta: s.beta,
    negative: { strategy: arm.negative.strategy, cropMin: arm.negative.cropMin ?? 0.01, cropMax: arm.negative.cropMax ?? 0.2 },
    lora: { rank: s.loraRank, alpha: s.loraAlpha, dropout: 0 },
    learningRate: s.learningRate,
    epochs: s.epochs,
    batchSize: s.batchSize,
    gradAccum: s.gradAccum,
    seed,
    backend: s.backend,
    checkpointEvery: 0,
    maxSteps: s.steps,
  });
}

async function sourceFor(ctx: StudyContext, arm: ArmSpec): Promise<DatasetPreferenceSource> {
  const key = negativeLabel(arm.negative);
  let source = ctx.sources.get(key);
  if (!source) {
    source = await createPreferenceSource(ctx.imported.records, {
      tokenizer: ctx.tokenizer,
      endTokenId: ctx.tokenizer.specials.eos,
      preprocess: { size: [ctx.imageSize, ctx.imageSize] },
      strategy: strategyFromConfig(arm.negative),
    });
    ctx.sources.set(key, source);
  }
  return source;
}

/** logp(y_w | m) and logp(y_w | m') of the held-out pairs; m' = crop 1-20% from a fixed seed. */
async function relianceOf(ctx: StudyContext, model: Vlm): Promise<RelianceReport> {
  const byId = new Map(ctx.evalScenes.map((s) => [s.id, s]));
  const size = ctx.imageSize;
  const withImage: number[] = [];
  const withNegative: number[] = [];
  const batch = 32;
  for (let i = 0; i < ctx.heldOut.length; i += batch) {
    const chunk = ctx.heldOut.slice(i, i + batch);
    const images = chunk.map((p) => sceneImage(byId.get(p.sceneId)!));
    const negatives = chunk.map((p, k) => makeNegative(images[k], size, size, DEFAULT_NEGATIVE, Rng.derive(ctx.settings.worldSeed, `reliance/${p.sceneId}`)));
    const promptIds = chunk.map((p) => ctx.tokenizer.encode(p.prompt));
    const answerIds = chunk.map((p) => [...ctx.tokenizer.encode(p.chosen), ctx.tokenizer.specials.eos]);
    const pixels = pixelBatch(model, [...images, ...negatives], [size, size]);
    const lp = tf.tidy(() => model.sequenceLogProbs({ pixels, promptIds: [...promptIds, ...promptIds], answerIds: [...answerIds, ...answerIds] }));
    const values = await lp.data();
    tf.dispose([pixels, lp]);
    for (let k = 0; k < chunk.length; k++) {
      withImage.push(values[k]);
      withNegative.push(values[chunk.length + k]);
    }
  }
  return imageReliance(withImage, withNegative);
}

export interface EvaluatedModel {
  evaluation: WorldEvaluation;
  reliance: RelianceReport;
  metrics: Metrics;
  outputs: OutputRecord[];
  seconds: number;
}

export async function evaluateModel(ctx: StudyContext, model: Vlm, phase: Phase, hooks: StudyHooks): Promise<EvaluatedModel> {
  const clock = new PhaseClock(phase, hooks, ctx.evalScenes.length);
  const evaluation = await evaluateWorld({
    scenes: ctx.evalScenes,
    stats: ctx.stats,
    answer: greedyAnswerer(model, ctx.tokenizer),
    // Per-object perception on as many held-out single-object scenes as there are held-out scenes.
    perception: { scenes: singleObjectScenes(ctx.settings.worldSeed, ctx.evalScenes.length, { imageSize: ctx.imageSize }), score: continuationScorer(model, ctx.tokenizer) },
    seed: ctx.settings.worldSeed,
    onProgress: (d, t) => {
      checkSignal(hooks);
      clock.tick(d, t);
    },
  });
  const reliance = ctx.heldOut.length > 0 ? await relianceOf(ctx, model) : { pairs: 0, mean: NaN, std: NaN, positiveShare: NaN };
  const metrics = metricsOf(evaluation, reliance);
  const byId = new Map(ctx.evalScenes.map((s) => [s.id, s]));
  const outputs = evaluation.descriptions.map((d): OutputRecord => {
    const scene = byId.get(d.sceneId)!;
    const marked = markAnswer(d.answer, sceneKeys(scene));
    return { sceneId: d.sceneId, imagePath: path.resolve(ctx.evalDir, imagePath(scene)), question: DESCRIBE_PROMPT, answer: d.answer, ...marked };
  });
  const seconds = clock.end(`CHAIR_s ${(100 * metrics.chair_s).toFixed(1)}, Cover ${(100 * metrics.cover).toFixed(1)}, POPE adv F1 ${(100 * metrics.pope_adversarial_f1).toFixed(1)}`);
  return { evaluation, reliance, metrics, outputs, seconds };
}

export interface ArmSeedResult {
  arm: string;
  seed: number;
  metrics: Metrics;
  trainSeconds: number;
  evalSeconds: number;
  steps: number;
  final: Record<string, number>;
  /** metric -> [step, value][] */
  curves: Record<string, { steps: number[]; values: number[] }>;
  /** Greedy descriptions of the held-out scenes, in scene order. */
  answers: string[];
}

/** Trains one arm with one seed from a fresh copy of the base (or scores the base) and evaluates it. */
export async function runArm(ctx: StudyContext, arm: ArmSpec, seed: number, hooks: StudyHooks = {}, base?: { metrics: Metrics }): Promise<ArmSeedResult> {
  checkSignal(hooks);
  const s = ctx.settings;
  const { model } = await loadBase(s.baseDir);
  const config = armTrainConfig(s, arm, seed);
  const curves: ArmSeedResult['curves'] = {};
  let final: Record<string, number> = {};
  let steps = 0;
  let trainSeconds = 0;
  const tag = s.seeds.length > 1 ? `${arm.name} s${seed}` : arm.name;
  try {
    let info: ArmRunInfo = { arm, seed, config, totalSteps: 0, backend: `${ctx.backend.name} (${ctx.backend.device})` };
    if (config) {
      const source = await sourceFor(ctx, arm);
      const lora = config.lora;
      const adapters = preferenceLora({ rank: lora.rank, alpha: lora.alpha, dropout: lora.dropout, targetModules: [...LORA_TARGETS_ALL] });
      if (adapters.note) hooks.onLog?.(adapters.note);
      model.addLora(adapters.config, Rng.derive(seed, 'lora/init'));
      const loop = loopConfigFromShared(config, { checkpointDir: null, defaultLearningRate: WORLD_LEARNING_RATE });
      let clock: PhaseClock | null = null;
      const aborter = new AbortController();
      const onAbort = () => aborter.abort();
      hooks.signal?.addEventListener('abort', onAbort);
      try {
        const result = await trainPreference(model, source, loop, {
          onStart: async (e) => {
            info = { ...info, totalSteps: e.totalSteps };
            clock = new PhaseClock(`train ${tag}`, hooks, e.totalSteps);
            await hooks.onRunStart?.(info);
          },
          onStep: (e) => {
            steps = e.step;
            final = e.metrics;
            for (const [name, value] of Object.entries({ ...e.metrics, 'throughput/pairs_per_sec': e.pairsPerSec })) {
              const c = (curves[name] ??= { steps: [], values: [] });
              c.steps.push(e.step);
              c.values.push(value);
            }
            hooks.onStep?.(info, e);
            clock?.tick(e.step, e.totalSteps, `loss ${e.metrics.loss.toFixed(4)}`);
          },
          signal: aborter.signal,
        });
        trainSeconds = (clock as PhaseClock | null)?.end(`loss ${final.loss?.toFixed(4)}`) ?? 0;
        if (result.status === 'aborted') throw new StudyCancelled();
      } catch (error) {
        const cancelled = error instanceof StudyCancelled;
        await hooks.onRunEnd?.(info, { status: cancelled ? 'cancelled' : 'failed', steps, error: { name: (error as Error).name, message: (error as Error).message } });
        throw error;
      } finally {
        hooks.signal?.removeEventListener('abort', onAbort);
      }
      const adapterDir = path.join(s.outDir, 'adapters', `${arm.name}-s${seed}`);
      await saveAdapter(adapterDir, model, { arm: arm.name, seed, steps });
      await hooks.onRunEnd?.(info, { status: 'completed', steps, adapterDir });
    }
    const evaluated = await evaluateModel(ctx, model, `eval ${tag}`, hooks);
    await hooks.onEvaluated?.(info, { metrics: evaluated.metrics, rows: evaluationRows(evaluated.metrics, base?.metrics), outputs: evaluated.outputs });
    return {
      arm: arm.name,
      seed,
      metrics: evaluated.metrics,
      trainSeconds,
      evalSeconds: evaluated.seconds,
      steps,
      final,
      curves,
      answers: evaluated.evaluation.descriptions.map((d) => d.answer),
    };
  } finally {
    model.dispose();
  }
}

export function machineInfo(backend: BackendInfo): { cpu: string; cores: number; backend: string; node: string } {
  const cpus = os.cpus();
  return { cpu: cpus[0]?.model?.trim() ?? 'unknown', cores: cpus.length, backend: `${backend.name} (${backend.device})`, node: process.version };
}
