/**
 * Vlm.freezeBase: full fine-tuning of part of the model (the world base's SFT keeps the vision
 * tower its warm-up trained). Frozen weights leave the trainable set and do not move in SFT;
 * the rest does; LoRA on and off keeps the frozen set frozen.
 */
import type * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { trainSft } from '../train/loop';
import { TinySftSource, tinyModel } from '../train/test-fixtures';
import { DEFAULT_LORA } from './lora';

beforeAll(async () => {
  await initBackend('cpu');
});

const values = (v: tf.Variable) => (v.dataSync() as Float32Array).slice();

describe('Vlm.freezeBase', () => {
  it('frozen weights stay out of the trainable set and unchanged by SFT; the others train', async () => {
    const model = tinyModel(1, false);
    const all = [...model.trainableParameters().keys()];
    const vision = all.filter((n) => n.startsWith('vision_tower.'));
    expect(vision.length).toBeGreaterThan(0);
    expect(model.freezeBase(['vision_tower.'])).toBe(vision.length);
    const trainable = [...model.trainableParameters().keys()];
    expect(trainable).toEqual(all.filter((n) => !n.startsWith('vision_tower.')));
    expect(model.trainableVariables()).toHaveLength(trainable.length);

    const frozenBefore = vision.map((n) => values(model.params.get(n)));
    const other = trainable[trainable.length - 1]!;
    const otherBefore = values(model.params.get(other));
    await trainSft(model, new TinySftSource(4), { batchSize: 2, gradAccum: 1, epochs: 1, learningRate: 1e-2, seed: 1, weightDecay: 0.01 });
    vision.forEach((n, i) => expect(values(model.params.get(n))).toEqual(frozenBefore[i]));
    expect(values(model.params.get(other))).not.toEqual(otherBefore);

    // Adapters on and off again: the frozen weights stay frozen, the rest trainable again.
    model.addLora({ ...DEFAULT_LORA, rank: 2, alpha: 4 }, new Rng(2));
    model.removeLora();
    expect([...model.trainableParameters().keys()]).toEqual(trainable);
    expect(vision.every((n) => !model.params.get(n).trainable)).toBe(true);
    model.dispose();
  });
});
