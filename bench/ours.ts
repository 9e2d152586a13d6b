/**
 * Our side of the benchmark.
 *
 *  - `runAppLoop`: the app's own training loop (src/core/train `trainPreference`), timed from
 *    its onStep events. This is the number the table reports: what a user gets.
 *  - `runAblationStep`: the same step rebuilt here from the model's public API, with each
 *    optimization of issue 9 as a switch (reference cached or recomputed, shared prefix,
 *    image embeddings cached, one forward over all rows or TRL's split), so each can be
 *    measured on and off from the outside without touching src/core.
 *  - `measureMatMulPeak`: the backend's throughput on a large square tf.matMul.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Vlm } from '../src/core/model/model';
import type { VlmConfig } from '../src/core/model/config';
import { Rng } from '../src/core/rng';
import { objectiveConfig, type VariantName } from '../src/core/objective/variants';
import { preferenceLoss } from '../src/core/objective/loss';
import { trainPreference } from '../src/core/train/loop';
import { AdamW } from '../src/core/train/optimizer';
import { clipByGlobalNorm, globalNorm } from '../src/core/train/gradients';
import { pixelBatch } from '../src/core/train/pixels';
import type { BenchSource } from './setup';
import { benchLora } from './setup';
import { summarize, type Summary } from './stats';

export interface ModelSpec {
  config: VlmConfig;
  loraRank: number;
  seed: number;
  /** Scale of the random LoRA B init (0 = PEFT's B = 0; the parity check wants policy != reference). */
  loraBStd: number;
}

/** The model, with adapters; LoRA B random when asked so the policy differs from the reference. */
export function buildModel(spec: ModelSpec): Vlm {
  const model = Vlm.create(spec.config, new Rng(spec.seed));
  const lora = model.addLora(benchLora(spec.loraRank), Rng.derive(spec.seed, 'bench/lora'));
  if (spec.loraBStd > 0) {
    const rng = Rng.derive(spec.seed, 'bench/loraB');
    for (const ad of lora.adapters.values()) {
      const data = new Float32Array(ad.b.size);
      for (let i = 0; i < data.length; i++) data[i] = rng.normal() * spec.loraBStd;
      const t = tf.tensor(data, ad.b.shape, 'float32');
      ad.b.assign(t);
      t.dispose();
    }
  }
  return model;
}

export interface LoopRun {
  /** Wall time of each optimizer step (ms), in order, warm-up included. */
  stepMs: number[];
  summary: Summary;
  /** Process CPU time of each step (ms): less sensitive than wall time to a shared machine. */
  cpuMs: number[];
  cpuSummary: Summary;
  /** After each step. */
  numTensors: number[];
  numBytes: number[];
  tensorGrowthPerStep: number;
  bytesGrowthPerStep: number;
  /** Step-1 metrics of the loop (loss, grad_norm, ...). */
  firstMetrics: Record<string, number>;
  lastMetrics: Record<string, number>;
  tokensPerStep: number;
}

export interface LoopOptions {
  variant: VariantName;
  batchSize: number;
  warmup: number;
  repeats: number;
  /** Learning rate of the AdamW steps (affects numbers, not time). */
  learningRate: number;
}

/** Steps the app's real loop: warm-up steps, then `repeats` timed steps, one source pass per step. */
export async function runAppLoop(model: Vlm, source: BenchSource, o: LoopOptions): Promise<LoopRun> {
  const stepMs: number[] = [];
  const cpuMs: number[] = [];
  let cpu0 = process.cpuUsage();
  const numTensors: number[] = [];
  const numBytes: number[] = [];
  const metrics: Record<string, number>[] = [];
  let tokens = 0;
  let last = performance.now();
  const total = o.warmup + o.repeats;
  await trainPreference(
    model,
    source,
    {
      objective: objectiveConfig(o.variant),
      batchSize: o.batchSize,
      gradAccum: 1,
      maxSteps: total,
      shuffle: false,
      learningRate: o.learningRate,
      schedule: 'constant',
      warmupRatio: 0,
      checkpointDir: null,
      seed: 0,
    },
    {
      beforeStep: () => {
        last = performance.now();
        cpu0 = process.cpuUsage();
      },
      onStep: (e) => {
        const now = performance.now();
        const c = process.cpuUsage(cpu0);
        stepMs.push(now - last);
        cpuMs.push((c.user + c.system) / 1000);
        const m = tf.memory();
        numTensors.push(m.numTensors);
        numBytes.push(m.numBytes);
        metrics.push(e.metrics);
        tokens = (e.tokensPerSec * (now - last)) / 1000;
      },
    },
  );
  const timed = stepMs.slice(o.warmup);
  const growth = (a: number[]) => (a.length > o.warmup + 1 ? (a[a.length - 1] - a[o.warmup]) / (a.length - 1 - o.warmup) : 0);
  return {
    stepMs,
    summary: summarize(timed.length > 0 ? timed : stepMs),
    cpuMs,
    cpuSummary: summarize(timed.length > 0 ? cpuMs.slice(o.warmup) : cpuMs),
    numTensors,
    numBytes,
    tensorGrowthPerStep: growth(numTensors),
    bytesGrowthPerStep: growth(numBytes),
    firstMetrics: metrics[0],
    lastMetrics: metrics[metrics.length - 1],
    tokensPerStep: Math.round(tokens),
  };
}

export interface AblationSwitches {
  /** Reference log-probs recomputed every step (TRL's default) instead of cached per pair. */
  refEveryStep: boolean;
  /** 'rows': one forward over [y_w|m; y_l|m; y_w|m'] (the app); 'trl': [y_w; y_l] then [y_w|m'];
   *  'prefix': [bos+image+prompt] once for y_w and y_l (pairLogProbs), then [y_w|m']. */
  forward: 'rows' | 'trl' | 'prefix';
  /** Vision tower + connector run once per pair for the run (they are frozen), not every step. */
  cacheImageEmbeds: boolean;
}

/**
 * One preference step from the model's public API (same loss, same AdamW, same clipping as the
 * loop), with the switches above. Each call steps the next batch of `batches` (cycling);
 * caches are per batch, as a per-pair cache would be over an epoch.
 */
export function ablationStepper(model: Vlm, source: BenchSource, variant: VariantName, batches: number[][], sw: AblationSwitches) {
  const objective = objectiveConfig(variant);
  const withImageless = objective.terms.conditional !== 0 || (objective.terms.anchor !== 0 && objective.anchor === 'chosen+rejected+imageless');
  const vars = model.trainableVariables();
  const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.05 });
  const shape = source.imageShape;
  const embedCache = new Map<string, tf.Tensor3D>();
  const refCache = new Map<number, number[][]>();
  let next = 0;

  const pixels = (imgs: Float32Array[]) => pixelBatch(model, imgs, shape);

  /** [policyChosen, policyRejected, policyImageless?] of batch `bi` for the given adapters setting. */
  const score = (bi: number, lora: boolean): tf.Tensor1D[] => {
    const ex = batches[bi].map((i) => source.example(i));
    const images = ex.map((e) => e.image);
    const negs = batches[bi].map((i) => source.negative(i));
    const prompts = ex.map((e) => e.promptIds);
    const chosen = ex.map((e) => e.chosenIds);
    const rejected = ex.map((e) => e.rejectedIds);
    const embeds = (key: string, imgs: Float32Array[]): { pixels: tf.Tensor4D | null; imageEmbeds: tf.Tensor3D | null } => {
      if (!sw.cacheImageEmbeds) return { pixels: pixels(imgs), imageEmbeds: null };
      let e = embedCache.get(`${bi}/${key}`);
      if (!e) {
        const p = pixels(imgs);
        e = tf.keep(model.encodeImages(p));
        p.dispose();
        embedCache.set(`${bi}/${key}`, e);
      }
      return { pixels: null, imageEmbeds: e };
    };
    if (sw.forward === 'rows') {
      const imgs = withImageless ? [...images, ...images, ...negs] : [...images, ...images];
      const src = embeds(withImageless ? 'rows3' : 'rows2', imgs);
      const all = model.sequenceLogProbs(
        {
          ...src,
          promptIds: withImageless ? [...prompts, ...prompts, ...prompts] : [...prompts, ...prompts],
          answerIds: withImageless ? [...chosen, ...rejected, ...chosen] : [...chosen, ...rejected],
        },
        { lora },
      );
      return tf.split(all, withImageless ? 3 : 2) as tf.Tensor1D[];
    }
    let pair: tf.Tensor1D[];
    if (sw.forward === 'trl') {
      const src = embeds('cr', [...images, ...images]);
      const all = model.sequenceLogProbs({ ...src, promptIds: [...prompts, ...prompts], answerIds: [...chosen, ...rejected] }, { lora });
      pair = tf.split(all, 2) as tf.Tensor1D[];
    } else {
      const src = embeds('m', images);
      const r = model.pairLogProbs({ ...src, promptIds: prompts, chosenIds: chosen, rejectedIds: rejected }, { lora });
      pair = [r.chosen, r.rejected];
    }
    if (!withImageless) return pair;
    const src = embeds('neg', negs);
    return [...pair, model.sequenceLogProbs({ ...src, promptIds: prompts, answerIds: chosen }, { lora })];
  };

  const reference = (bi: number): number[][] => {
    const hit = refCache.get(bi);
    if (hit && !sw.refEveryStep) return hit;
    const values = tf.tidy(() => score(bi, false).map((t) => Array.from(t.dataSync())));
    refCache.set(bi, values);
    return values;
  };

  return {
    async step(): Promise<number> {
      const bi = next;
      next = (next + 1) % batches.length;
      const ref = reference(bi);
      const { value, grads } = tf.variableGrads(() => {
        const p = score(bi, true);
        return preferenceLoss(
          {
            policyChosen: p[0],
            policyRejected: p[1],
            refChosen: tf.tensor1d(ref[0]),
            refRejected: tf.tensor1d(ref[1]),
            ...(withImageless ? { policyImageless: p[2], refImageless: tf.tensor1d(ref[2]) } : {}),
          },
          objective,
        ).loss;
      }, vars);
      const loss = (await value.data())[0];
      value.dispose();
      let g = vars.map((v) => grads[v.name]);
      const norm = await globalNorm(g);
      g = clipByGlobalNorm(g, norm, 1);
      opt.apply(g, 1e-4);
      tf.dispose(g);
      return loss;
    },
    dispose(): void {
      opt.dispose();
      for (const t of embedCache.values()) t.dispose();
    },
  };
}

/** Times `repeats` calls of `fn` after `warmup` calls (wall and process CPU); tensor counts are checked for growth. */
export async function timeSteps(fn: () => unknown, warmup: number, repeats: number) {
  for (let i = 0; i < warmup; i++) await fn();
  const ms: number[] = [];
  const cpu: number[] = [];
  const t0 = tf.memory().numTensors;
  for (let i = 0; i < repeats; i++) {
    const c = process.cpuUsage();
    const s = performance.now();
    await fn();
    ms.push(performance.now() - s);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  return { summary: summarize(ms), cpuSummary: summarize(cpu), tensorGrowthPerStep: repeats > 0 ? (tf.memory().numTensors - t0) / repeats : 0 };
}

/**
 * GFLOP/s of an n x n x n tf.matMul (best of `reps`), the backend's practical peak, per wall
 * second and per CPU second of this process (the latter barely moves when the machine is shared).
 */
export function measureMatMulPeak(n: number, reps = 3): { n: number; gflops: number; gflopsCpu: number; ms: number } {
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  let best = Infinity;
  let bestCpu = Infinity;
  for (let i = 0; i < reps + 1; i++) {
    const c0 = process.cpuUsage();
    const s = performance.now();
    const c = tf.matMul(a, b);
    c.dataSync();
    const ms = performance.now() - s;
    const cu = process.cpuUsage(c0);
    c.dispose();
    if (i > 0) {
      // the first call warms up
      best = Math.min(best, ms);
      bestCpu = Math.min(bestCpu, (cu.user + cu.system) / 1000);
    }
  }
  tf.dispose([a, b]);
  const flop = 2 * n ** 3;
  return { n, ms: best, gflops: flop / (best * 1e6), gflopsCpu: flop / (Math.max(bestCpu, 1e-3) * 1e6) };
}
