import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { generate, pickToken } from './generation';
import { Vlm } from './model';
import { initParams } from './params';
import { TINY, maxAbsDiff, seededPixels } from './test-utils';

describe('generation', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  // Larger init (std 0.3) so the tiny random model has peaked, prompt-dependent distributions.
  const model = () => new Vlm(TINY, initParams(TINY, new Rng(1), 0.3));

  it('cached decoding gives the same tokens and logits as full recomputation (ragged batch)', async () => {
    const m = model();
    const px = seededPixels(3, TINY, 2);
    const promptIds = [[5, 6, 7], [], [8, 9, 10, 11, 12]];
    for (const sampling of [false, true]) {
      const opts = { maxNewTokens: 8, returnLogits: true, ...(sampling ? { temperature: 1, topP: 0.9 } : {}) };
      const a = await generate(m, { pixels: px, promptIds }, { ...opts, rng: new Rng(3), useCache: true });
      const b = await generate(m, { pixels: px, promptIds }, { ...opts, rng: new Rng(3), useCache: false });
      expect(a.tokens).toEqual(b.tokens);
      // The cache makes it linear: prefix (1 + 4 image + 5 prompt) + 7 single slots vs sum of full passes.
      const steps = Math.max(...a.tokens.map((t, r) => t.length + (a.finished[r] ? 1 : 0)));
      expect(a.slotsComputed).toBe(10 + steps - 1);
      expect(b.slotsComputed).toBe(Array.from({ length: steps }, (_, i) => 10 + i).reduce((x, y) => x + y, 0));
      expect(a.finished).toEqual(b.finished);
      let worst = 0;
      a.logits!.forEach((row, r) => row.forEach((l, s) => (worst = Math.max(worst, maxAbsDiff(l, b.logits![r][s])))));
      expect(worst).toBeLessThan(1e-4);
      // Each row stops at eos or at maxNewTokens.
      a.tokens.forEach((t, r) => expect(a.finished[r] || t.length === 8).toBe(true));
    }
    px.dispose();
    m.dispose();
  });

  it('a row decoded alone equals the same row decoded in a padded batch', async () => {
    const m = model();
    const px = seededPixels(2, TINY, 4);
    const both = await generate(m, { pixels: px, promptIds: [[5], [6, 7, 8, 9]] }, { maxNewTokens: 6, returnLogits: true });
    const one = tf.slice(px, [1, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D;
    const alone = await generate(m, { pixels: one, promptIds: [[6, 7, 8, 9]] }, { maxNewTokens: 6, returnLogits: true });
    expect(alone.tokens[0]).toEqual(both.tokens[1]);
    const embeds = m.encodeImages(one);
    const viaEmbeds = await generate(m, { pixels: null, imageEmbeds: embeds, promptIds: [[6, 7, 8, 9]] }, { maxNewTokens: 6 });
    expect(viaEmbeds.tokens).toEqual(alone.tokens);
    expect(embeds.isDisposed).toBe(false);
    embeds.dispose();
    expect(maxAbsDiff(alone.logits![0][0], both.logits![1][0])).toBeLessThan(1e-4);
    tf.dispose([px, one]);
    m.dispose();
  });

  it('frees every tensor, stops at eos, and samples from the seeded generator', async () => {
    const m = model();
    const before = tf.memory().numTensors;
    const r1 = await generate(m, { pixels: null, promptIds: [[5, 6]] }, { maxNewTokens: 5, temperature: 1.5, rng: new Rng(9) });
    const r2 = await generate(m, { pixels: null, promptIds: [[5, 6]] }, { maxNewTokens: 5, temperature: 1.5, rng: new Rng(9) });
    expect(r1.tokens).toEqual(r2.tokens);
    expect(tf.memory().numTensors).toBe(before);
    // Stop at eos: make eos the argmax everywhere by using it as the stop token of a greedy run.
    const greedy = await generate(m, { pixels: null, promptIds: [[5, 6]] }, { maxNewTokens: 3 });
    const stop = await generate(m, { pixels: null, promptIds: [[5, 6]] }, { maxNewTokens: 3, eos: greedy.tokens[0][0] });
    expect(stop.tokens[0]).toEqual([]);
    expect(stop.finished[0]).toBe(true);
    await expect(generate(m, { pixels: null, promptIds: [[5]] }, { maxNewTokens: 2, temperature: 1 })).rejects.toThrow('Expected an Rng for sampling');
    m.dispose();
  });

  it('pickToken: greedy is argmax; top-p keeps only the nucleus', () => {
    const l = Float32Array.from([0, 3, 1, 2.9]);
    expect(pickToken(l, 0, 1, undefined)).toBe(1);
    const rng = new Rng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(pickToken(l, 1, 0.5, rng));
    expect([...seen].sort()).toEqual([1, 3]);
    const all = new Set<number>();
    for (let i = 0; i < 400; i++) all.add(pickToken(l, 1, 1, rng));
    expect(all.size).toBe(4);
  });
});
