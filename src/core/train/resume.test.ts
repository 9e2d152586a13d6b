import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import type { LoopConfig } from './config';
import { CheckpointError, latestCheckpoint, loadCheckpoint } from './checkpoint';
import { TrainingDivergedError, trainPreference } from './loop';
import { TinyPreferenceSource, tinyModel } from './test-fixtures';
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

      // A fresh process would build the model again from the same seed, then resume.
      const second = tinyModel();
      const resumedLosses: number[] = [];
      const r2 = await trainPreference(second, new TinyPreferenceSource(8), { ...cfg, checkpointDir: dir }, {
        resumeFrom: dir,
        onStep: (e) => resumedLosses.push(e.metrics.loss),
      });
      expect(r2).toMatchObject({ status: 'completed', step: 6 });
      expect(resumedLosses).toHaveLength(3);
      resumedLosses.forEach((l, i) => expect(Math.abs(l - wholeLosses[3 + i])).toBeLessThan(1e-6));
      const a = weights(whole);
      const b = weights(second);
      a.forEach((w, i) => w.forEach((x, j) => expect(Math.abs(x - b[i][j])).toBeLessThan(1e-6)));
      whole.dispose();
      second.dispose();
    });
  }

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
