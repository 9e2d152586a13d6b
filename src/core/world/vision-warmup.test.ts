import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { BUILTIN_SMALL, withOverrides } from '../model/config';
import { Vlm } from '../model/model';
import { Rng } from '../rng';
import { ALL_OBJECT_KEYS } from './objects';
import type { Scene } from './scene';
import { patchLabels, warmUpVision } from './vision-warmup';

const NONE = ALL_OBJECT_KEYS.length;

function sceneWith(objects: Scene['objects']): Scene {
  return { id: 't-0', imageSize: 32, theme: 'garden', background: [40, 40, 40], texture: 0, textureSeed: 1, objects };
}

describe('patchLabels', () => {
  it('names the object under each 8x8 patch, row-major, and none elsewhere (hand-worked)', () => {
    // A 16x16 square at (8, 8) covers pixels 9.2..22.8 of each axis (85% of the half-side):
    // patches (1,1), (2,1), (1,2), (2,2) of the 4x4 grid, each at least a quarter covered.
    const labels = patchLabels(sceneWith([{ color: 'red', shape: 'square', x: 8, y: 8, w: 16, h: 16, rgb: [220, 40, 40] }]), 8);
    const red = ALL_OBJECT_KEYS.indexOf('red square');
    expect(labels).toEqual([NONE, NONE, NONE, NONE, NONE, red, red, NONE, NONE, red, red, NONE, NONE, NONE, NONE, NONE]);
  });

  it('ignores patches an object barely touches', () => {
    // A bar 10 px wide at the far right: rows 3..6 of it fall in patch row 0 only.
    const labels = patchLabels(sceneWith([{ color: 'blue', shape: 'bar', x: 22, y: 0, w: 10, h: 10, rgb: [50, 90, 230] }]), 8);
    expect(labels.filter((l) => l !== NONE).length).toBeGreaterThan(0);
    expect(labels.slice(8)).toEqual(Array(8).fill(NONE));
  });
});

describe('warmUpVision', () => {
  it('runs seeded steps without leaking tensors', async () => {
    await initBackend('wasm');
    const config = withOverrides(BUILTIN_SMALL, {
      vision: { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 },
      text: { hiddenSize: 16, numLayers: 1, numHeads: 2, numKeyValueHeads: 1, intermediateSize: 32 },
    });
    const model = Vlm.create(config, new Rng(1));
    await warmUpVision(model, { seed: 1, steps: 1, batchSize: 4 });
    const before = tf.memory().numTensors;
    const r = await warmUpVision(model, { seed: 1, steps: 3, batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    model.dispose();
  });
});
