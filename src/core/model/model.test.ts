import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { BUILTIN_SMALL, numImageTokens, withOverrides } from './config';
import { applyRope, decoderLayers, outputLogits, ropeTables } from './decoder';
import { DEFAULT_LORA } from './lora';
import { Vlm } from './model';
import { TINY, maxAbsDiff, raggedBatch, seededPixels } from './test-utils';

const LORA = { ...DEFAULT_LORA, rank: 4, alpha: 8 };

/** Naive reference: one example, unpadded, output head on EVERY slot, log-probs read in JS. */
function naiveLogProb(m: Vlm, pixels: tf.Tensor4D | null, prompt: number[], answer: number[], lora: boolean): number {
  return tf.tidy(() => {
    const ctx = m.ctx({ lora });
    const c = m.config;
    const img = pixels ? m.encodeImages(pixels) : null;
    const ids = [...prompt, ...answer];
    const table = m.params.get('language_model.model.embed_tokens.weight');
    const parts: tf.Tensor[] = [tf.reshape(tf.gather(table, [c.tokens.bos]), [1, 1, -1])];
    if (img) parts.push(img);
    parts.push(tf.reshape(tf.gather(table, ids), [1, ids.length, -1]));
    const x = tf.concat(parts, 1);
    const T = x.shape[1] as number;
    const pos = [Array.from({ length: T }, (_, t) => t)];
    const { hidden } = decoderLayers(ctx, c, x, pos, [pos[0].map(() => true)], null, false);
    const logp = tf.logSoftmax(outputLogits(ctx, c, hidden), -1).arraySync() as number[][][];
    const start = T - answer.length;
    return answer.reduce((s, tok, j) => s + logp[0][start + j - 1][tok], 0);
  }) as unknown as number;
}

describe('Vlm log-probs and LoRA (wasm)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('validates configs with plain errors', () => {
    expect(() => withOverrides(BUILTIN_SMALL, { vision: { patchSize: 5 } })).toThrow(
      'Expected vision.patchSize to divide vision.imageSize (32), but got 5',
    );
    expect(() => withOverrides(BUILTIN_SMALL, { text: { numKeyValueHeads: 3 } })).toThrow('Expected text.numKeyValueHeads to divide text.numHeads (4), but got 3');
    expect(() => withOverrides(BUILTIN_SMALL, { tokens: { eos: 999 } })).toThrow('Expected tokens.eos to be a token id in [0, 64), but got 999');
    expect(numImageTokens(BUILTIN_SMALL)).toBe(16);
    expect(numImageTokens(withOverrides(BUILTIN_SMALL, { connector: { type: 'pixel_shuffle', scaleFactor: 2 } }))).toBe(4);
  });

  it('matches a naive per-example computation, padded in a batch, with and without image', async () => {
    const m = Vlm.create(TINY, new Rng(1));
    const B = 4;
    const px = seededPixels(B, TINY, 2);
    const { promptIds, answerIds } = raggedBatch(TINY, B, 3);
    for (const withImage of [true, false]) {
      const got = m.sequenceLogProbs({ pixels: withImage ? px : null, promptIds, answerIds }, { lora: false });
      const arr = got.dataSync();
      got.dispose();
      // Per-token values sum to the sequence value.
      const perToken = await m.tokenLogProbs({ pixels: withImage ? px : null, promptIds, answerIds }, { lora: false });
      perToken.forEach((t, b) => {
        expect(t.length).toBe(answerIds[b].length);
        expect(Math.abs(t.reduce((x, y) => x + y, 0) - arr[b])).toBeLessThan(1e-4);
      });
      for (let b = 0; b < B; b++) {
        const one = withImage ? tf.slice(px, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D : null;
        const want = naiveLogProb(m, one, promptIds[b], answerIds[b], false);
        one?.dispose();
        expect(Math.abs(arr[b] - want)).toBeLessThan(1e-4);
      }
    }
    px.dispose();
    m.dispose();
  });

  it('LoRA with B = 0 gives policy == reference exactly; the image changes the answer log-prob', () => {
    const m = Vlm.create(TINY, new Rng(4));
    m.addLora(LORA, new Rng(5));
    const px = seededPixels(3, TINY, 6);
    const batch = { pixels: px, ...raggedBatch(TINY, 3, 7) };
    const pol = m.sequenceLogProbs(batch).dataSync();
    const ref = m.sequenceLogProbs(batch, { lora: false }).dataSync();
    expect(Array.from(pol)).toEqual(Array.from(ref));
    const noImg = m.sequenceLogProbs({ ...batch, pixels: null }).dataSync();
    expect(maxAbsDiff(pol, noImg)).toBeGreaterThan(1e-4);
    px.dispose();
    m.dispose();
  });

  it('pairLogProbs (shared prefix + KV cache) equals sequenceLogProbs on each answer', () => {
    const m = Vlm.create(TINY, new Rng(8));
    m.addLora(LORA, new Rng(9));
    // Non-zero B so the adapters matter in this check.
    for (const ad of m.lora!.adapters.values()) ad.b.assign(tf.randomNormal(ad.b.shape, 0, 0.1, 'float32', 1));
    const B = 3;
    const px = seededPixels(B, TINY, 10);
    const { promptIds, answerIds: chosenIds } = raggedBatch(TINY, B, 11);
    const rejectedIds = raggedBatch(TINY, B, 12).answerIds.map((a) => [5, ...a]);
    const pair = m.pairLogProbs({ pixels: px, promptIds, chosenIds, rejectedIds });
    const c = m.sequenceLogProbs({ pixels: px, promptIds, answerIds: chosenIds });
    const r = m.sequenceLogProbs({ pixels: px, promptIds, answerIds: rejectedIds });
    expect(maxAbsDiff(pair.chosen.dataSync(), c.dataSync())).toBeLessThan(1e-5);
    expect(maxAbsDiff(pair.rejected.dataSync(), r.dataSync())).toBeLessThan(1e-5);
    // Gradients through the shared (tiled) prefix cache equal those of two separate passes.
    const vars = m.trainableVariables();
    const g1 = tf.variableGrads(() => {
      const p = m.pairLogProbs({ pixels: px, promptIds, chosenIds, rejectedIds });
      return tf.sub(tf.sum(p.chosen), tf.mul(tf.sum(p.rejected), 0.5)) as tf.Scalar;
    }, vars);
    const g2 = tf.variableGrads(() => {
      const a = m.sequenceLogProbs({ pixels: px, promptIds, answerIds: chosenIds });
      const b = m.sequenceLogProbs({ pixels: px, promptIds, answerIds: rejectedIds });
      return tf.sub(tf.sum(a), tf.mul(tf.sum(b), 0.5)) as tf.Scalar;
    }, vars);
    let worst = 0;
    for (const v of vars) worst = Math.max(worst, maxAbsDiff(g1.grads[v.name].dataSync(), g2.grads[v.name].dataSync()));
    expect(worst).toBeLessThan(1e-5);
    tf.dispose([pair.chosen, pair.rejected, c, r, px, g1.value, g2.value, ...Object.values(g1.grads), ...Object.values(g2.grads)]);
    m.dispose();
  });

  it('LoRA training moves only the adapters; base stays bit-identical; no tensor leaks', () => {
    const m = Vlm.create(TINY, new Rng(13));
    m.addLora(LORA, new Rng(14));
    const px = seededPixels(2, TINY, 15);
    const batch = { pixels: px, ...raggedBatch(TINY, 2, 16) };
    const before = new Map(m.params.entries().map(([n, v]) => [n, v.dataSync().slice()]));
    const vars = m.trainableVariables();
    expect(vars.length).toBe(2 * 7 * TINY.text.numLayers);
    const start = m.sequenceLogProbs(batch).dataSync()[0];
    let counts: number[] = [];
    for (let step = 0; step < 6; step++) {
      const { value, grads } = tf.variableGrads(() => tf.neg(tf.sum(m.sequenceLogProbs(batch, { dropoutRng: new Rng(step) }))) as tf.Scalar, vars);
      tf.tidy(() => {
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], 0.05)));
      });
      value.dispose();
      tf.dispose(Object.values(grads));
      counts.push(tf.memory().numTensors);
    }
    counts = counts.slice(1);
    expect(new Set(counts).size).toBe(1);
    const end = m.sequenceLogProbs(batch).dataSync()[0];
    expect(end).toBeGreaterThan(start);
    for (const [n, v] of m.params.entries()) expect(Buffer.from(v.dataSync().buffer).equals(Buffer.from(before.get(n)!.buffer))).toBe(true);
    const bNorm = [...m.lora!.adapters.values()].reduce((s, ad) => s + tf.tidy(() => tf.sum(tf.abs(ad.b)).dataSync()[0]), 0);
    expect(bNorm).toBeGreaterThan(0);
    // Merging folds the adapters into the base: same log-probs without adapters.
    const pol = m.sequenceLogProbs(batch).dataSync();
    m.mergeLora();
    expect(m.lora).toBeNull();
    const merged = m.sequenceLogProbs(batch).dataSync();
    expect(maxAbsDiff(pol, merged)).toBeLessThan(1e-4);
    expect(m.trainableVariables().length).toBe(m.params.names().length);
    px.dispose();
    m.dispose();
  });

  it('full fine-tuning (no LoRA): SFT loss goes down and gradients reach the vision tower', () => {
    const m = Vlm.create(TINY, new Rng(17));
    const px = seededPixels(2, TINY, 18);
    const batch = { pixels: px, ...raggedBatch(TINY, 2, 19) };
    const vars = m.trainableVariables();
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      const { value, grads } = tf.variableGrads(() => m.sftLoss(batch), vars);
      losses.push(value.dataSync()[0]);
      const g = grads[m.params.get('vision_tower.vision_model.embeddings.patch_embedding.weight').name];
      expect(tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0])).toBeGreaterThan(0);
      tf.tidy(() => {
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], 0.2)));
      });
      value.dispose();
      tf.dispose(Object.values(grads));
    }
    expect(losses[4], losses.join(" ")).toBeLessThan(losses[0] - 0.1);
    px.dispose();
    m.dispose();
  });

  it('LoRA dropout: masks from the given Rng (same seed, same log-probs), none without one', () => {
    const m = Vlm.create(TINY, new Rng(22));
    m.addLora({ ...LORA, dropout: 0.5 }, new Rng(23));
    for (const ad of m.lora!.adapters.values()) ad.b.assign(tf.randomNormal(ad.b.shape, 0, 0.3, 'float32', 2));
    const batch = { pixels: null, ...raggedBatch(TINY, 2, 24) };
    const lp = (rng?: Rng) => tf.tidy(() => Array.from(m.sequenceLogProbs(batch, { dropoutRng: rng }).dataSync()));
    const plain = lp();
    expect(lp()).toEqual(plain);
    const a = lp(new Rng(5));
    expect(lp(new Rng(5))).toEqual(a);
    expect(maxAbsDiff(a, plain)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(a, lp(new Rng(6)))).toBeGreaterThan(1e-4);
    m.dispose();
  });

  it('RoPE rotates each (i, i + hd/2) pair by position * theta^(-2i/hd), as HF does', () => {
    const hd = 8;
    const x = [0.3, -1.2, 0.5, 2.0, -0.7, 0.1, 1.1, -0.4];
    const { cos, sin } = ropeTables([[0, 5]], hd, 100);
    const xt = tf.tensor4d([...x, ...x], [1, 1, 2, hd]);
    const out = applyRope(xt, cos, sin).dataSync();
    for (const [t, p] of [[0, 0], [1, 5]]) {
      for (let i = 0; i < hd / 2; i++) {
        const a = p * Math.pow(100, (-2 * i) / hd);
        expect(out[t * hd + i]).toBeCloseTo(x[i] * Math.cos(a) - x[i + hd / 2] * Math.sin(a), 5);
        expect(out[t * hd + i + hd / 2]).toBeCloseTo(x[i + hd / 2] * Math.cos(a) + x[i] * Math.sin(a), 5);
      }
    }
    tf.dispose([cos, sin, xt]);
  });

  it('rejects bad inputs up front', () => {
    const m = Vlm.create(TINY, new Rng(20));
    const px = seededPixels(2, TINY, 21);
    expect(() => m.sequenceLogProbs({ pixels: px, promptIds: [[4], [5]], answerIds: [[2], []] })).toThrow(
      'Expected answerIds[1] to hold at least one token (the end token), but got none',
    );
    expect(() => m.sequenceLogProbs({ pixels: px, promptIds: [[4], [99]], answerIds: [[2], [2]] })).toThrow(
      'Expected promptIds[1] to hold token ids in [0, 20), but got 99',
    );
    expect(() => m.sequenceLogProbs({ pixels: px, promptIds: [[4]], answerIds: [[2]] })).toThrow('Expected 1 images (one per prompt), but got 2');
    expect(() => m.addLora({ ...LORA, targetModules: ['fc1'] }, new Rng(1))).toThrow('Expected lora.targetModules entries');
    px.dispose();
    m.dispose();
  });
});
