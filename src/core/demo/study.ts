/**
 * The study engine behind `npm run demo` and `npm run experiment`: one base, one pair dataset,
 * the same seeds and steps for every arm; each trained arm is scored on held-out scenes.
 *
 *   prepareStudy   load the base, sample + judge pairs (written as an ordinary dataset folder,
 *                  read back through importDataset + createPreferenceSource, the path user data
 *                  takes), held-out pairs for image reliance, the evaluation scenes
 *   runArm         train one arm with one seed (LoRA on the language model) and evaluate it
 *   assembleResults / writeResults   results.json, results.md, report.html
 *
 * No SQLite and nothing of src/main here: the run store is written by hooks (src/main/demo-store.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { EvaluationRow, HallucinationMark, ParsedObject, SerializedError } from '../../shared/api';
import { trainConfigSchema, type TrainConfig } from '../../shared/schemas';
import { describeBackend, initBackend, type BackendInfo, type BackendName } from '../backend';
import { createPreferenceSource, importDataset, makeNegative, DEFAULT_NEGATIVE, strategyFromConfig, type DatasetPreferenceSource } from '../data';
import type { ImportResult } from '../data';
import { imageReliance, type RelianceReport } from '../eval/reliance';
import { loadCheckpoint, saveAdapter } from '../model/checkpoint';
import { LORA_TARGETS_ALL } from '../model/lora';
import type { Vlm } from '../model/model';
import type { WordTokenizer } from '../model/tokenizer';
import { Rng } from '../rng';
import { loopConfigFromShared, pixelBatch, trainPreference, type StepEvent } from '../train';
import { greedyAnswerer, sampler } from '../world/answerers';
import { imagePath, writeSceneSet } from '../world/dataset';
import { evaluateWorld, type WorldEvaluation } from '../world/evaluate';
import { DESCRIBE_PROMPT } from '../world/grammar';
import { buildPairs } from '../world/pairs';
import { objectStats, type ObjectStats } from '../world/pope';
import { buildWorldPreferenceDataset } from '../world/preference';
import { sceneImage } from '../world/render';
import type { Scene } from '../world/scene';
import { sceneKeys } from '../world/scene';
import { evalScenes, sftScenes } from '../world/splits';
import { negativeLabel, type ArmSpec } from './arms';
import { markAnswer } from './marks';
import { evaluationRows, metricsOf, type Metrics } from './results';

/**
 * Peak learning rate of LoRA on the built-in ~0.4M-parameter model (the paper's 1e-5 (docs/objective.md#defaults) is for
 * 3B-7B models; at that rate the small model's adapters do not move in a few dozen steps).
 * 1e-3 is also the app's default for the built-in model (src/main/trainer/engine.ts). A short
 * DPO sweep (39 steps, the demo's pairs) gave: 3e-4 barely fits the pairs (final loss 0.51),
 * 1e-3 fits them (0.07, reward accuracy 1.0), 3e-3 collapses the answers (no object parsed in
 * any held-out description). See docs/results/README-section.md.
 */
export const WORLD_LEARNING_RATE = 1e-3;

export interface StudySettings {
  /** The base checkpoint folder (config.json + model.safetensors + tokenizer.json). */
  baseDir: string;
  /** Where the dataset, the evaluation scenes and the results go. */
  outDir: string;
  /** Seeds the world: pair scenes, held-out scenes, POPE questions, sampling. */
  worldSeed: number;
  /** Scenes of the "pairs" split sampled for preference pairs. */
  pairScenes: number;
  samplesPerQuestion: number;
  temperature: number;
  /** Held-out scenes for CHAIR/Cover/Hal and POPE. */
  evalScenes: number;
  /** Held-out scenes sampled for the image-reliance pairs (a prefix of the evaluation scenes). */
  relianceScenes: number;
  /** SFT scenes whose object statistics rank POPE's popular/adversarial objects. */
  statsScenes: number;
  /** Training seeds (one run per arm and seed). */
  seeds: number[];
  learningRate: number;
  /** Optimizer steps (null: `epochs` over the pairs). */
  steps: number | null;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  beta: number;
  loraRank: number;
  loraAlpha: number;
  /** Samples shown side by side in the report. */
  samples: number;
  backend: BackendName | 'auto';
}

export type Phase = string;

export interface ProgressEvent {
  phase: Phase;
  done: number;
  total: number;
  elapsedMs: number;
  /** null until there is a rate to extrapolate from. */
  etaMs: number | null;
  /** true once, when the phase ends. */
  finished: boolean;
  detail?: string;
}

export interface ArmRunInfo {
  arm: ArmSpec;
  seed: number;
  /** The run as the app stores it (src/shared TrainConfig); null for the base arm. */
  config: TrainConfig | null;
  totalSteps: number;
  backend: string;
}

export interface OutputRecord {
  sceneId: string;
  /** Absolute path of the scene's PNG. */
  imagePath: string;
  question: string;
  answer: string;
  objects: ParsedObject[];
  marks: HallucinationMark[];
}

export interface ArmEvaluated {
  metrics: Metrics;
  rows: EvaluationRow[];
  outputs: OutputRecord[];
}

export interface DatasetInfo {
  dir: string;
  name: string;
  import: ImportResult;
}

/** Everything a driver may observe; all optional. The run store hangs off these. */
export interface StudyHooks {
  onProgress?: (e: ProgressEvent) => void;
  onLog?: (line: string) => void;
  onDataset?: (d: DatasetInfo) => void | Promise<void>;
  onRunStart?: (run: ArmRunInfo) => void | Promise<void>;
  onStep?: (run: ArmRunInfo, e: StepEvent) => void;
  /**
   * `adapterDir`: where a completed run's LoRA adapters were saved (PEFT layout), so a driver can
   * keep them with the run (the app then asks, evaluates and exports it like any other run).
   */
  onRunEnd?: (run: ArmRunInfo, r: { status: 'completed' | 'failed' | 'cancelled'; steps: number; error?: SerializedError; adapterDir?: string }) => void | Promise<void>;
  onEvaluated?: (run: ArmRunInfo, e: ArmEvaluated) => void | Promise<void>;
  signal?: AbortSignal;
}

/** Times a phase and reports its progress with an ETA. */
export class PhaseClock {
  private readonly started = Date.now();
  constructor(
    readonly phase: Phase,
    private readonly hooks: StudyHooks,
    private total = 1,
  ) {
    this.emit(0, false);
  }
  tick(done: number, total = this.total, detail?: string): void {
    this.total = total;
    this.emit(done, false, detail);
  }
  end(detail?: string): number {
    return this.emit(this.total, true, detail);
  }
  private emit(done: number, finished: boolean, detail?: string): number {
    const elapsedMs = Date.now() - this.started;
    const etaMs = finished ? 0 : done > 0 ? (elapsedMs / done) * (this.total - done) : null;
    this.hooks.onProgress?.({ phase: this.phase, done, total: this.total, elapsedMs, etaMs, finished, detail });
    return elapsedMs / 1000;
  }
}

export interface HeldOutPair {
  sceneId: string;
  prompt: string;
  chosen: string;
}

export interface StudyContext {
  settings: StudySettings;
  backend: BackendInfo;
  tokenizer: WordTokenizer;
  imageSize: number;
  datasetDir: string;
  imported: ImportResult;
  buildSummary: { questions: number; kept: number; dropped: number; chosenHallucinations: number; rejectedHallucinations: number };
  evalScenes: Scene[];
  evalDir: string;
  stats: ObjectStats;
  heldOut: HeldOutPair[];
  /** Preference sources by negative strategy (built on first use). */
  sources: Map<string, DatasetPreferenceSource>;
}

export class StudyCancelled extends Error {
  override name = 'StudyCancelled';
  constructor() {
    super('Cancelled.');
  }
}

function checkSignal(hooks: StudyHooks): void {
  if (hooks.signal?.aborted) throw new StudyCancelled();
}

async function loadBase(dir: string): Promise<{ model: Vlm; tokenizer: WordTokenizer }> {
  const { model, tokenizer } = await loadCheckpoint(dir).catch((error: Error) => {
    throw new Error(`Cannot load the base model from ${dir}: ${error.message}`, { cause: error });
  });
  if (!tokenizer) throw new Error(`The base model ${dir} has no tokenizer.json.`);
  return { model, tokenizer };
}

const sameSettings = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Builds (or, when the same settings built it before, reuses) the pair dataset and the
 * held-out data. Workers of the experiment call it after the main process did the work.
 */
export async function prepareStudy(settings: StudySettings, hooks: StudyHooks = {}): Promise<StudyContext> {
  const backend = await initBackend(settings.backend);
  hooks.onLog?.(describeBackend(backend));
  await mkdir(settings.outDir, { recursive: true });
  const datasetDir = path.join(settings.outDir, 'dataset');
  const evalDir = path.join(settings.outDir, 'eval-scenes');
  const heldOutFile = path.join(settings.outDir, 'held-out-pairs.json');
  const pairSettings = {
    base: path.resolve(settings.baseDir),
    seed: settings.worldSeed,
    scenes: settings.pairScenes,
    samplesPerQuestion: settings.samplesPerQuestion,
    temperature: settings.temperature,
  };
  const heldSettings = { ...pairSettings, relianceScenes: settings.relianceScenes };

  let base: { model: Vlm; tokenizer: WordTokenizer } | null = null;
  const getBase = async () => (base ??= await loadBase(settings.baseDir));

  // 1. Pairs: sample from the base, judge against the ground truth, write the dataset folder.
  const stampFile = path.join(datasetDir, 'demo-settings.json');
  let buildSummary: StudyContext['buildSummary'];
  const stamp = existsSync(stampFile) ? JSON.parse(await readFile(stampFile, 'utf8')) : null;
  if (stamp && sameSettings(stamp.settings, pairSettings)) {
    buildSummary = stamp.summary;
    hooks.onLog?.(`reusing the pair dataset in ${datasetDir}`);
  } else {
    const { model, tokenizer } = await getBase();
    const clock = new PhaseClock('pairs', hooks, settings.pairScenes);
    const built = await buildWorldPreferenceDataset({
      model,
      tokenizer,
      seed: settings.worldSeed,
      scenes: settings.pairScenes,
      samplesPerQuestion: settings.samplesPerQuestion,
      temperature: settings.temperature,
      dir: datasetDir,
      onProgress: (d, t) => {
        checkSignal(hooks);
        clock.tick(d, t);
      },
    });
    if (built.pairs.length === 0) throw new Error(`The base model gave no usable pairs on ${settings.pairScenes} scenes (every question was a tie).`);
    buildSummary = built.summary;
    clock.end(`${built.summary.kept} pairs from ${built.summary.questions} questions`);
    await writeFile(stampFile, JSON.stringify({ settings: pairSettings, summary: buildSummary }, null, 1) + '\n');
  }
  checkSignal(hooks);

  // 2. Read it back the way user data comes in.
  const importClock = new PhaseClock('import', hooks, 1);
  const imported = await importDataset(datasetDir);
  if (imported.records.length === 0) throw new Error(`Importing ${datasetDir} gave no valid records: ${imported.report.issues.map((i) => i.message).join('; ')}`);
  importClock.end(`${imported.records.length} valid records (${imported.format})`);
  await hooks.onDataset?.({ dir: datasetDir, name: `world pairs (seed ${settings.worldSeed}, ${imported.records.length} pairs)`, import: imported });

  // 3. Held-out scenes, their images (for the report and the store), POPE statistics.
  const scenes = evalScenes(settings.worldSeed, settings.evalScenes);
  if (!existsSync(path.join(evalDir, 'annotations.json'))) await writeSceneSet(evalDir, scenes);
  const stats = objectStats(sftScenes(settings.worldSeed, settings.statsScenes));

  // 4. Held-out pairs for image reliance: sampled from the base on held-out scenes, judged.
  let heldOut: HeldOutPair[];
  const held = existsSync(heldOutFile) ? JSON.parse(await readFile(heldOutFile, 'utf8')) : null;
  if (held && sameSettings(held.settings, heldSettings)) heldOut = held.pairs;
  else {
    const { model, tokenizer } = await getBase();
    const relianceScenes = scenes.slice(0, settings.relianceScenes);
    const clock = new PhaseClock('held-out pairs', hooks, relianceScenes.length);
    const built = await buildPairs({
      scenes: relianceScenes,
      sample: sampler(model, tokenizer, settings.worldSeed + 7919, settings.temperature),
      samplesPerQuestion: settings.samplesPerQuestion,
      seed: settings.worldSeed,
      onProgress: (d, t) => clock.tick(d, t),
    });
    heldOut = built.pairs.map((p) => ({ sceneId: p.scene.id, prompt: p.prompt, chosen: p.chosen }));
    clock.end(`${heldOut.length} held-out pairs`);
    await writeFile(heldOutFile, JSON.stringify({ settings: heldSettings, pairs: heldOut }, null, 1) + '\n');
  }

  const loaded = await getBase();
  const tokenizer = loaded.tokenizer;
  const imageSize = loaded.model.config.vision.imageSize;
  loaded.model.dispose();
  return {
    settings,
    backend,
    tokenizer,
    imageSize,
    datasetDir,
    imported,
    buildSummary,
    evalScenes: scenes,
    evalDir,
    stats,
    heldOut,
    sources: new Map(),
  };
}

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
      model.addLora({ rank: lora.rank, alpha: lora.alpha, dropout: lora.dropout, targetModules: [...LORA_TARGETS_ALL] }, Rng.derive(seed, 'lora/init'));
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
