import { describe, expect, it } from 'vitest';
import { trainConfigSchema } from '../../shared/schemas';
import { incompatibleChanges, resolveLoopConfig } from './config';
import { loopConfigFromShared } from './from-shared';

describe('TrainConfig -> LoopConfig', () => {
  it('maps the stored defaults onto docs/objective.md\'s', () => {
    const tc = trainConfigSchema.parse({ datasetId: 1 });
    const c = loopConfigFromShared(tc, { checkpointDir: '/tmp/run', defaultLearningRate: 1e-5 });
    expect(c).toMatchObject({
      learningRate: 1e-5, schedule: 'cosine', warmupRatio: 0.1, epochs: 3, batchSize: 4, gradAccum: 8,
      weightDecay: 0.05, adamBeta2: 0.98, negativeFixedPerPair: true, checkpointDir: '/tmp/run',
    });
    expect(c.objective).toEqual({
      variant: 'mdpo', beta: 0.1, delta: 0, terms: { dpo: 1, conditional: 1, anchor: 1 }, useImage: true, anchor: 'chosen',
    });
  });

  it('variant, weights, anchor and an explicit learning rate', () => {
    const tc = trainConfigSchema.parse({
      datasetId: 1, variant: 'dpo-no-image', learningRate: 3e-4, anchor: 'chosen+rejected+negative', weights: { dpo: 2 },
    });
    const c = loopConfigFromShared(tc, { checkpointDir: null, defaultLearningRate: 1e-5 });
    expect(c.learningRate).toBe(3e-4);
    expect(c.objective).toMatchObject({ useImage: false, terms: { dpo: 2, conditional: 0, anchor: 0 }, anchor: 'chosen+rejected+imageless' });
  });

  it('resume compatibility ignores key order and the checkpoint fields', () => {
    const a = resolveLoopConfig({ checkpointDir: '/a' });
    const { variant, beta, delta, terms, useImage, anchor } = a.objective;
    const b = resolveLoopConfig({ objective: { anchor, useImage, terms: { anchor: terms.anchor, conditional: terms.conditional, dpo: terms.dpo }, delta, beta, variant }, checkpointDir: '/b' });
    expect(incompatibleChanges(a, b)).toEqual([]);
    expect(incompatibleChanges(a, { ...b, seed: 1, batchSize: 2 })).toEqual(['batchSize', 'seed']);
  });
});
