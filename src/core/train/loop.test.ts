import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { objectiveConfig } from '../objective/variants';
import { Rng } from '../rng';
import type { LoopConfig } from './config';
import { resolveLoopConfig } from './config';
import { epochOrder, totalStepsFor, trainPreference, trainSft } from './loop';
import { TinyPreferenceSource, TinySftSource, tinyModel } from './test-fixtures';
import type { StepEvent } from './types';

const LN2 = Math.log(2);
const BASE: Partial<LoopConfig> = { batchSize: 2, gradAccum: 2, epochs: 2, learningRate: 5e-3, seed: 3 };

beforeAll(async () => {
  await initBackend('cpu');
});

function snapshot(vars: tf.Variable[]): Float32Array[] {
  return vars.map((v) => (v.dataSync() as Float32Array).slice());
}

describe('preference loop on the real (tiny) model', () => {
  it('step 0: every term is log 2 and mdpo = 3 log 2; reports every metric', async () => {
    const model = tinyModel();
    const events: StepEvent[] = [];
    const starts: unknown[] = [];
    await trainPreference(model, new TinyPreferenceSource(8), { ...BASE, maxSteps: 1 }, { onStep: (e) => events.push(e), onStart: (e) => starts.push(e) });
    expect(starts).toEqual([{ totalSteps: 1, startStep: 0, size: 8, notes: [] }]);
    const m = events[0].metrics;
    expect(m.loss).toBeCloseTo(3 * LN2, 6);
    for (const k of ['loss/dpo', 'loss/conditional', 'loss/anchor']) expect(m[k]).toBeCloseTo(LN2, 6);
    for (const k of ['rewards/chosen', 'rewards/margins', 'rewards/imageless_margins']) expect(m[k]).toBeCloseTo(0, 6);
    expect(m['logps/chosen']).toBeLessThan(0);
    expect(m['logps/imageless_chosen']).toBeLessThan(0);
    expect(events[0]).toMatchObject({ step: 1, totalSteps: 1, learningRate: 0, pairs: 4, epoch: 0.5 });
    expect(m.learning_rate).toBe(0); // HF warm-up: the first step has lr 0
    expect(m.grad_norm).toBeGreaterThan(0);
    expect(events[0].pairsPerSec).toBeGreaterThan(0);
    expect(events[0].tokensPerSec).toBeGreaterThan(events[0].pairsPerSec);
    model.dispose();
  });

  it('trains LoRA only: adapters change, base weights stay bit-identical; memory flat over 20 steps', async () => {
    const model = tinyModel();
    const base = model.params.entries().map(([, v]) => v);
    const baseBefore = snapshot(base);
    const loraBefore = snapshot(model.trainableVariables());
    const counts: number[] = [];
    const losses: number[] = [];
    const result = await trainPreference(model, new TinyPreferenceSource(8), { ...BASE, batchSize: 2, gradAccum: 1, maxSteps: 20, epochs: 99 }, {
      onStep: (e) => {
        counts.push(tf.memory().numTensors);
        losses.push(e.metrics.loss);
      },
    });
    expect(result).toMatchObject({ status: 'completed', step: 20, totalSteps: 20 });
    expect(new Set(counts.slice(1)).size).toBe(1); // flat after the first step
    expect(snapshot(base)).toEqual(baseBefore);
    const loraAfter = snapshot(model.trainableVariables());
    const changed = loraAfter.filter((a, i) => a.some((x, j) => x !== loraBefore[i][j])).length;
    expect(changed).toBe(loraAfter.length); // every A and B moved
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]); // the preference is being learnt
    model.dispose();
  });

  it('dropout is off during preference training, even with LoRA dropout configured', async () => {
    const firstLoss = async (dropout: number) => {
      const model = tinyModel(1, true, dropout);
      // Non-zero B, so a dropped adapter input would change the output.
      tf.tidy(() => model.trainableVariables().forEach((v, i) => v.assign(tf.fill(v.shape, 0.05 * ((i % 3) - 1) + 0.02))));
      const events: StepEvent[] = [];
      await trainPreference(model, new TinyPreferenceSource(4), { ...BASE, batchSize: 4, gradAccum: 1, maxSteps: 1 }, { onStep: (e) => events.push(e) });
      // Sanity: with a dropout generator the same model does give other log-probs.
      const src = new TinyPreferenceSource(4);
      const batch = { pixels: null, promptIds: [src.pairs[0].promptIds], answerIds: [src.pairs[0].chosenIds] };
      const [plain, dropped] = tf.tidy(() => [
        model.sequenceLogProbs(batch).dataSync()[0],
        model.sequenceLogProbs(batch, { dropoutRng: new Rng(1) }).dataSync()[0],
      ]);
      model.dispose();
      return { loss: events[0].metrics.loss, dropoutMatters: plain !== dropped };
    };
    const without = await firstLoss(0);
    const withDropout = await firstLoss(0.5);
    expect(withDropout.dropoutMatters).toBe(true);
    expect(withDropout.loss).toBe(without.loss);
    expect(Math.abs(without.loss - 3 * LN2)).toBeGreaterThan(1e-4); // the policy is not the reference here
  });

  it('two runs with one seed are identical; another seed differs', async () => {
    const run = async (seed: number) => {
      const model = tinyModel();
      const losses: number[] = [];
      await trainPreference(model, new TinyPreferenceSource(8), { ...BASE, seed, maxSteps: 4 }, { onStep: (e) => losses.push(e.metrics.loss) });
      const w = snapshot(model.trainableVariables());
      model.dispose();
      return { losses, w };
    };
    const a = await run(3);
    const b = await run(3);
    const c = await run(4);
    expect(b).toEqual(a);
    expect(c.losses).not.toEqual(a.losses);
  });

  it('gradient accumulation: 2 x 2 equals one batch of 4', async () => {
    const run = async (batchSize: number, gradAccum: number) => {
      const model = tinyModel();
      await trainPreference(model, new TinyPreferenceSource(8), { ...BASE, batchSize, gradAccum, maxSteps: 3, shuffle: false });
      const w = snapshot(model.trainableVariables());
      model.dispose();
      return w;
    };
    const a = await run(4, 1);
    const b = await run(2, 2);
    a.forEach((x, i) => x.forEach((v, j) => expect(Math.abs(v - b[i][j])).toBeLessThan(1e-6)));
  });

  // Unequal micro-batches: 5 pairs per step as 3 + 2. The step loss is the mean over 5 pairs,
  // not the mean of the two micro-batch means (which only agree when the sizes are equal).
  it('gradient accumulation with unequal micro-batches: 3 + 2 equals one batch of 5 (preference and SFT)', async () => {
    const preference = async (batchSize: number, gradAccum: number) => {
      const model = tinyModel();
      const losses: number[] = [];
      await trainPreference(model, new TinyPreferenceSource(5), { ...BASE, batchSize, gradAccum, maxSteps: 3 }, { onStep: (e) => losses.push(e.metrics.loss) });
      const w = snapshot(model.trainableVariables());
      model.dispose();
      return { losses, w };
    };
    const whole = await preference(5, 1);
    const split = await preference(3, 2);
    whole.losses.forEach((l, i) => expect(Math.abs(l - split.losses[i])).toBeLessThan(1e-5)); // float32 sums in another order
    whole.w.forEach((x, i) => x.forEach((v, j) => expect(Math.abs(v - split.w[i][j])).toBeLessThan(1e-5)));
    // The weights moved enough for a wrong weighting (1/2 per micro-batch) to show.
    const fresh = tinyModel();
    const start = snapshot(fresh.trainableVariables());
    fresh.dispose();
    expect(Math.max(...whole.w.map((x, i) => Math.max(...x.map((v, j) => Math.abs(v - start[i][j])))))).toBeGreaterThan(1e-3);

    const sft = async (batchSize: number, gradAccum: number) => {
      const model = tinyModel(1, false);
      const losses: number[] = [];
      await trainSft(model, new TinySftSource(5), { ...BASE, batchSize, gradAccum, maxSteps: 6, learningRate: 1e-2 }, { onStep: (e) => losses.push(e.metrics.loss) });
      model.dispose();
      return losses;
    };
    const sftWhole = await sft(5, 1);
    const sftSplit = await sft(3, 2);
    sftWhole.forEach((l, i) => expect(Math.abs(l - sftSplit[i])).toBeLessThan(1e-5));
  });

  it('every variant and anchor placement runs, dpo-no-image without pixels', async () => {
    const variants = [
      objectiveConfig('dpo'), objectiveConfig('mdpo-no-conditional'), objectiveConfig('mdpo-no-anchor'), objectiveConfig('dpo-no-image'),
      objectiveConfig('mdpo', { anchor: 'chosen+rejected+imageless' }),
    ];
    for (const objective of variants) {
      const model = tinyModel();
      const events: StepEvent[] = [];
      await trainPreference(model, new TinyPreferenceSource(4), { ...BASE, objective, maxSteps: 1 }, { onStep: (e) => events.push(e) });
      const t = objective.terms;
      const anchorPieces = objective.anchor === 'chosen' ? 1 : 3;
      expect(events[0].metrics.loss).toBeCloseTo(LN2 * (t.dpo + t.conditional + t.anchor * anchorPieces), 6);
      model.dispose();
    }
  });

  it('abort stops between steps; beforeStep can pause', async () => {
    const model = tinyModel();
    const controller = new AbortController();
    const seen: number[] = [];
    let paused = 0;
    const result = await trainPreference(model, new TinyPreferenceSource(8), { ...BASE }, {
      signal: controller.signal,
      beforeStep: async (step) => {
        if (step === 1) {
          paused += 1;
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      onStep: (e) => {
        seen.push(e.step);
        if (e.step === 2) controller.abort();
      },
    });
    expect(result).toMatchObject({ status: 'aborted', step: 2, checkpoint: null });
    expect(seen).toEqual([1, 2]);
    expect(paused).toBe(1);
    model.dispose();
  });

  it('refuses a model without adapters, and bad config up front', async () => {
    const model = tinyModel(1, false);
    await expect(trainPreference(model, new TinyPreferenceSource(2))).rejects.toThrow(/needs LoRA adapters/);
    const withLora = tinyModel();
    await expect(trainPreference(withLora, new TinyPreferenceSource(2), { epochs: 0 })).rejects.toThrow(/Expected epochs to be a positive integer, but got 0/);
    withLora.dispose();
    expect(() => resolveLoopConfig({ batchSize: 0 })).toThrow(/Expected batchSize to be a positive integer, but got 0/);
    model.dispose();
  });

  it('orders and step counts', () => {
    const cfg = resolveLoopConfig({ batchSize: 2, gradAccum: 2, epochs: 3, seed: 5 });
    expect(totalStepsFor(9, cfg)).toBe(9); // ceil(9 / 4) = 3 per epoch
    expect(totalStepsFor(9, { ...cfg, maxSteps: 4 })).toBe(4);
    const o = epochOrder(9, 1, cfg);
    expect([...o].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(epochOrder(9, 1, cfg)).toEqual(o);
    expect(epochOrder(9, 2, cfg)).not.toEqual(o);
  });
});

describe('SFT on the same loop', () => {
  it('learns a tiny image-dependent task: loss falls well below its start', async () => {
    const model = tinyModel(1, false); // full fine-tuning of the base
    const losses: number[] = [];
    await trainSft(model, new TinySftSource(16), {
      learningRate: 1e-2, batchSize: 8, gradAccum: 1, epochs: 12, warmupRatio: 0.1, seed: 1, weightDecay: 0,
    }, { onStep: (e) => losses.push(e.metrics.loss) });
    const first = losses[0];
    const last = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
    expect(losses).toHaveLength(24);
    expect(last).toBeLessThan(0.5 * first);
    model.dispose();
  });
});
