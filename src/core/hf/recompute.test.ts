import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import type { LoadedHfModel } from './load';
import { loadHfModel } from './load';
import { estimateMemory } from './memory';
import { tinyImage, writeTinyHfFolder } from './testing/fixtures';
import { ProcessorPreferenceSource, batchOf, pixelsFor, tempDir } from './testing/helpers';

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

it('the estimate of activations is within [0.75, 1.35] of the measured peak (both modes, several shapes)', async () => {
  const m = loaded.model;
  const lora = { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };
  m.addLora(lora, new Rng(1));
  const p = loaded.processor.promptIds('x');
  const N = m.extras.imageSeqLen;
  const s = p.indexOf(m.extras.imageTokenId);
  for (const [P, A, B] of [[40, 20, 2], [160, 80, 1]]) {
    for (const recompute of [false, true]) {
      m.recompute = recompute;
      const prompt = [...p.slice(0, s + N), ...Array<number>(P).fill(70), ...p.slice(s + N)];
      const answer = [...Array<number>(A - 1).fill(71), loaded.tokenizer.specials.eos];
      const rows = 3 * B;
      const pixels = pixelsFor(m, Array.from({ length: rows }, (_, i) => tinyImage(m.config.vision.imageSize, i)));
      const batch = { pixels, promptIds: Array(rows).fill(prompt), answerIds: Array(rows).fill(answer) };
      const start = tf.memory().numBytes;
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(() => tf.neg(tf.sum(m.sequenceLogProbs(batch))) as tf.Scalar, m.trainableVariables());
        tf.dispose([value, ...Object.values(grads)]);
      });
      pixels.dispose();
      const est = estimateMemory(m.config, m.extras, { lora, batchSize: B, promptTokens: prompt.length - N, answerTokens: A, rowsPerExample: 3, recompute });
      const ratio = (est.bytes.activations + est.bytes.head + est.bytes.vision) / (info.peakBytes - start);
      expect(ratio).toBeGreaterThan(0.75);
      expect(ratio).toBeLessThan(1.35);
    }
  }
  m.recompute = false;
  m.removeLora();
});
