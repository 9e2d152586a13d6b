import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { BUILTIN_SMALL, withOverrides } from '../model/config';
import { Vlm } from '../model/model';
import { Rng } from '../rng';
import { ALL_OBJECT_KEYS } from './objects';
import { generateScenes, type Scene } from './scene';
import { objectReadout, patchLabels, warmUpVision } from './vision-warmup';

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

const TINY_WORLD = withOverrides(BUILTIN_SMALL, {
  vision: { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 },
  text: { hiddenSize: 16, numLayers: 1, numHeads: 2, numKeyValueHeads: 1, intermediateSize: 32 },
});

describe('objectReadout', () => {
  it('sums the head over the patches of each object and takes the argmax (hand-worked)', () => {
    // The red square of the first test covers patches 5, 6, 9, 10 of the 4x4 grid.
    const square = { color: 'red' as const, shape: 'square' as const, x: 8, y: 8, w: 16, h: 16, rgb: [220, 40, 40] as [number, number, number] };
    const scenes = [sceneWith([square]), sceneWith([square])];
    const C = NONE + 1;
    const logits = new Float32Array(2 * 16 * C);
    const set = (scene: number, patch: number, key: string, v: number) => (logits[(scene * 16 + patch) * C + ALL_OBJECT_KEYS.indexOf(key)] = v);
    // Scene 0: red square 3 on one patch beats blue square 1 + 1 on two others: right.
    set(0, 5, 'red square', 3);
    set(0, 6, 'blue square', 1);
    set(0, 9, 'blue square', 1);
    set(0, 0, 'blue square', 9); // a background patch: not the object's, ignored
    // Scene 1: red circle everywhere on the object: color right, shape wrong.
    for (const p of [5, 6, 9, 10]) set(1, p, 'red circle', 1);
    expect(objectReadout(scenes, 8, logits)).toEqual({ objects: 2, colorAccuracy: 1, shapeAccuracy: 0.5, objectAccuracy: 0.5 });
  });
});

describe('warmUpVision', () => {
  it('runs seeded steps without leaking tensors', async () => {
    await initBackend('wasm');
    const model = Vlm.create(TINY_WORLD, new Rng(1));
    await warmUpVision(model, { seed: 1, steps: 1, batchSize: 4 });
    const before = tf.memory().numTensors;
    const r = await warmUpVision(model, { seed: 1, steps: 3, batchSize: 4, probes: { two: generateScenes(1, 'probe', 2) } });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.readouts?.two.objects).toBe(generateScenes(1, 'probe', 2).reduce((n, s) => n + s.objects.length, 0));
    expect(Number.isFinite(r.loss)).toBe(true);
    expect(r.accuracy).toBeGreaterThanOrEqual(0);
    expect(r.accuracy).toBeLessThanOrEqual(1);
    model.dispose();
  });

  it('learns to name the object under a patch: from chance to above the all-"none" baseline', async () => {
    await initBackend('cpu');
    const model = Vlm.create(TINY_WORLD, new Rng(1));
    const steps: { loss: number; accuracy: number }[] = [];
    await warmUpVision(model, { seed: 1, steps: 60, batchSize: 8, learningRate: 1e-2, onStep: (_s, loss, accuracy) => steps.push({ loss, accuracy }) });
    model.dispose();
    expect(steps).toHaveLength(60);
    for (const s of steps) {
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(s.accuracy >= 0 && s.accuracy <= 1).toBe(true); // NaN fails both
    }
    // Step 1, before any update: a head of N(0, 1/D) weights is close to uniform over 37 classes.
    expect(steps[0].loss).toBeCloseTo(Math.log(NONE + 1), 1);
    // The share of patches with no object: what always answering "none" scores.
    const { imageSize, patchSize } = TINY_WORLD.vision;
    const labels = generateScenes(1, 'vision', 480, { imageSize }, 0).flatMap((s) => patchLabels(s, patchSize));
    const noneShare = labels.filter((l) => l === NONE).length / labels.length;
    expect(noneShare).toBeGreaterThan(0.55); // the baseline is high: beating it needs the image
    const last = steps.slice(-10);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(last.map((s) => s.accuracy))).toBeGreaterThan(noneShare + 0.03);
    expect(mean(last.map((s) => s.loss))).toBeLessThan(0.5 * steps[0].loss);
  });
});
