import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import type { LoadedHfModel } from './load';
import { loadHfModel } from './load';
import { writeTinyHfFolder } from './testing/fixtures';
import { ProcessorPreferenceSource, batchOf, tempDir } from './testing/helpers';

let tmp: { dir: string; cleanup: () => Promise<void> };
let loaded: LoadedHfModel;

beforeAll(async () => {
  await initBackend('wasm');
  tmp = await tempDir('recompute');
  loaded = await loadHfModel((await writeTinyHfFolder(join(tmp.dir, 'm'), 'smolvlm')).dir, { skipMemoryCheck: true });
});
afterAll(async () => {
  loaded.model.dispose();
  await tmp.cleanup();
});

/** Bytes above the starting point at the peak of one forward + backward. */
async function peakOf(recompute: boolean): Promise<number> {
  const m = loaded.model;
  m.recompute = recompute;
  const src = new ProcessorPreferenceSource(loaded.processor, 4);
  const batch = batchOf(m, src, [0, 1, 2, 3]);
  const start = tf.memory().numBytes;
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => tf.neg(tf.sum(m.sequenceLogProbs(batch))) as tf.Scalar, m.trainableVariables());
    tf.dispose([value, ...Object.values(grads)]);
  });
  batch.pixels!.dispose();
  m.recompute = false;
  return info.peakBytes - start;
}

it('recomputation keeps less for backward; the frozen vision side keeps nothing', async () => {
  loaded.model.addLora({ rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj', 'gate_proj'] }, new Rng(1));
  const plain = await peakOf(false);
  const again = await peakOf(false);
  const re = await peakOf(true);
  expect(again).toBe(plain); // deterministic measurement
  expect(re).toBeLessThan(plain * 0.6);
  loaded.model.removeLora();
  // Without LoRA every weight trains, the vision side included: its activations are kept.
  const full = await peakOf(false);
  expect(full).toBeGreaterThan(plain);
});
