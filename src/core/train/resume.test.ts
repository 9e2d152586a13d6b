import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import type { LoopConfig } from './config';
import { CheckpointError, latestCheckpoint, loadCheckpoint } from './checkpoint';
import type { Vlm } from '../model/model';
import { TrainingDivergedError, trainPreference, trainSft } from './loop';
import { TinyPreferenceSource, TinySftSource, tinyModel } from './test-fixtures';
import type { SequenceBatch, TrainableModel } from './types';

const tmpRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'mdpo-resume-'));
afterAll(() => fs.rm(tmpRoot, { recursive: true, force: true }));

// 8 pairs, 2 x 2 per step: 2 steps per epoch, 3 epochs = 6 steps.
const CFG: Partial<LoopConfig> = { batchSize: 2, gradAccum: 2, epochs: 3, learningRate: 5e-3, seed: 9, checkpointEvery: 1 };

beforeAll(async () => {
  await initBackend('cpu');
});

function weights(model: TrainableModel): number[][] {
  return model.trainableVariables().map((v) => Array.from(v.dataSync()));
}

/** The model, counting the rows it scores with adapters off (the reference forwards). */
function countingReference(model: Vlm): { model: TrainableModel; referenceRows: number } {
  const out = {
    referenceRows: 0,
    model: {
      trainableVariables: () => model.trainableVariables(),
      nameOf: (v: tf.Variable) => model.nameOf(v),
      baseParameters: () => model.baseParameters(),
      encodeImages: (pixels: tf.Tensor4D) => model.encodeImages(pixels),
      config: model.config,
      sequenceLogProbs: (batch: SequenceBatch, opts?: { lora?: boolean }) => {
        if (opts?.lora === false) out.referenceRows += batch.promptIds.length;
        return model.sequenceLogProbs(batch, opts);
      },
    } satisfies TrainableModel,
  };
  return out;
}

describe('checkpoints and resume', () => {
  for (const negativeFixedPerPair of [true, false]) {
    it(`an interrupted and resumed run ends exactly like an uninterrupted one (m' ${negativeFixedPerPair ? 'fixed per pair' : 'per epoch'})`, async () => {
      const tag = negativeFixedPerPair ? 'fixed' : 'epoch';
      const cfg = { ...CFG, negativeFixedPerPair };
      const whole = tinyModel();
      const wholeLosses: number[] = [];
      await trainPreference(whole, new TinyPreferenceSource(8), { ...cfg, checkpointDir: path.join(tmpRoot, `whole-${tag}`) }, {
        onStep: (e) => wholeLosses.push(e.metrics.loss),
      });

      const dir = path.join(tmpRoot, `parts-${tag}`);
      const first = tinyModel();
      const stop = new AbortController();
      const r1 = await trainPreference(first, new TinyPreferenceSource(8), { ...cfg, checkpointDir: dir, checkpointEvery: 0 }, {
        signal: stop.signal,
        onStep: (e) => e.step === 3 && stop.abort(), // mid-epoch: epoch 1, after its first step
      });
      expect(r1).toMatchObject({ status: 'aborted', step: 3 });
      expect(r1.checkpoint).toBe(path.join(dir, 'checkpoint-000003'));
      first.dispose();

      // A fresh process would build the model again from the same seed, then resume. Count the
      // reference rows it scores (adapters off): the restored cache must answer the rest.
      const second = tinyModel();
      const counted = countingReference(second);
      const resumedLosses: number[] = [];
      const r2 = await trainPreference(counted.model, new TinyPreferenceSource(8), { ...cfg, checkpointDir: dir }, {
        resumeFrom: dir,
        onStep: (e) => resumedLosses.push(e.metrics.loss),
      });
      expect(r2).toMatchObject({ status: 'completed', step: 6 });
      expect(resumedLosses).toHaveLength(3);
      // Epoch 0 scored every pair's y_w|m and y_l|m (and y_w|m' when m' is fixed): the resumed
      // run reads them from the checkpoint's cache. Only m' drawn per epoch is scored again:
      // 3 steps x 4 pairs. Without the cache restore: 24 rows (fixed m') or 28 (per epoch).
      expect(counted.referenceRows).toBe(negativeFixedPerPair ? 0 : 12);
      resumedLosses.forEach((l, i) => expect(Math.abs(l - wholeLosses[3 + i])).toBeLessThan(1e-6));
      const a = weights(whole);
      const b = weights(second);
      a.forEach((w, i) => w.forEach((x, j) => expect(Math.abs(x - b[i][j])).toBeLessThan(1e-6)));
      whole.dispose();
      second.dispose();
    });
  }

  // The loop's Rng draws dropout masks (SFT with LoRA dropout): a resume that did not restore its
  // state would draw other masks after the restart and end elsewhere.
  it('an interrupted and resumed SFT run with LoRA dropout ends exactly like an uninterrupted one (Rng restored)', async () => {
    const cfg: Partial<LoopConfig> = { batchSize: 2, gradAccum: 2, epochs: 2, learningRate: 1e-2, seed: 4, checkpointEvery: 1 };
    const run = async (tag: string, stopAt: number | null, resume: boolean) => {
      const model = tinyModel(1, true, 0.3);
      const losses: number[] = [];
      const stop = new AbortController();
      const dir = path.join(tmpRoot, `sft-${tag}`);
      await trainSft(model, new TinySftSource(8), { ...cfg, checkpointDir: dir }, {
        signal: stop.signal,
        resumeFrom: resume ? dir : undefined,
        onStep: (e) => {
          losses.push(e.metrics.loss);
          if (e.step === stopAt) stop.abort();
        },
      });
      const w = weights(model);
      model.dispose();
      return { losses, w };
    };
    const whole = await run('whole', null, false);
    expect(whole.losses).toHaveLength(4);
    const first = await run('parts', 1, false);
    expect(first.losses).toHaveLength(1);
    const rest = await run('parts', null, true);
    expect(rest.losses).toHaveLength(3);
    rest.losses.forEach((l, i) => expect(Math.abs(l - whole.losses[1 + i])).toBeLessThan(1e-6));
    whole.w.forEach((w, i) => w.forEach((x, j) => expect(Math.abs(x - rest.w[i][j])).toBeLessThan(1e-6)));
  });

  it('refuses to resume with a config that would change the numbers', async () => {
    const dir = path.join(tmpRoot, 'refuse');
    const model = tinyModel();
    await trainPreference(model, new TinyPreferenceSource(4), { ...CFG, maxSteps: 1, checkpointDir: dir });
    await expect(
      trainPreference(model, new TinyPreferenceSource(4), { ...CFG, maxSteps: 1, learningRate: 1, checkpointDir: dir }, { resumeFrom: dir }),
    ).rejects.toThrow(CheckpointError);
    await expect(
      trainPreference(model, new TinyPreferenceSource(4), { ...CFG, maxSteps: 1, learningRate: 1 }, { resumeFrom: dir }),
    ).rejects.toThrow(/config differs from the checkpoint's in learningRate/);
    model.dispose();
  });

  it('NaN in the loss stops the run with the step and quantity, and keeps the last good checkpoint', async () => {
    const dir = path.join(tmpRoot, 'nan');
    const model = tinyModel();
    const source = new TinyPreferenceSource(8);
    const run = trainPreference(model, source, { ...CFG, shuffle: false, checkpointDir: dir }, {
      onStep: (e) => e.step === 2 && source.poisoned.add(0), // unshuffled: pair 0 opens step 3 (epoch 1)
    });
    const err = (await run.catch((e: unknown) => e)) as TrainingDivergedError;
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect(err).toMatchObject({ step: 3, quantity: 'loss' });
    expect(err.message).toMatch(/Training diverged at step 3: loss is NaN\. The last good checkpoint is .*checkpoint-000002/);
    expect(await latestCheckpoint(dir)).toBe(path.join(dir, 'checkpoint-000002'));
    const ck = await loadCheckpoint(dir);
    expect(ck.state.step).toBe(2);
    for (const w of Object.values(ck.weights)) expect(w.data.every(Number.isFinite)).toBe(true);
    model.dispose();
  });

  it('NaN in a gradient (finite loss) names the variable', async () => {
    const model = tinyModel();
    const poison = { on: false };
    // The real model, with a term whose value is 0 but whose gradient is NaN: d sqrt(0 * x) = 0 * inf.
    const first = model.trainableVariables()[0];
    const wrapped: TrainableModel = {
      trainableVariables: () => model.trainableVariables(),
      nameOf: (v) => model.nameOf(v),
      config: model.config,
      sequenceLogProbs: (batch: SequenceBatch, opts) => {
        const lp = model.sequenceLogProbs(batch, opts);
        return poison.on ? tf.add(lp, tf.sqrt(tf.mul(tf.sum(first), 0))) : lp;
      },
    };
    const run = trainPreference(wrapped, new TinyPreferenceSource(8), { ...CFG }, { onStep: (e) => e.step === 1 && (poison.on = true) });
    const err = (await run.catch((e: unknown) => e)) as TrainingDivergedError;
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect(err.step).toBe(2);
    expect(err.quantity).toBe(`gradient of ${model.nameOf(first)}`);
    model.dispose();
  });
});
