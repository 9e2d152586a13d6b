/** Generation on WebGPU (CI: Mesa's software Vulkan driver) decodes what cpu decodes. */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { generate } from './generation';
import { Vlm } from './model';
import { initParams } from './params';
import { TINY, maxAbsDiff, seededPixels } from './test-utils';
import { webgpuMissing, webgpuRequired } from '../webgpu-test-env';

async function decode() {
  const m = new Vlm(TINY, initParams(TINY, new Rng(1), 0.3));
  const px = seededPixels(2, TINY, 2);
  const before = tf.memory().numTensors;
  const out = await generate(m, { pixels: px, promptIds: [[5, 6], [7]] }, { maxNewTokens: 6, returnLogits: true });
  const leaked = tf.memory().numTensors - before;
  px.dispose();
  m.dispose();
  return { out, leaked };
}

describe('generation on webgpu', () => {
  // Must run under CI=true or MDPO_REQUIRE_WEBGPU=1 (software Vulkan); elsewhere skipped without an adapter.
  it('greedy decoding with the KV cache matches cpu (tokens, logits to 1e-4), no leaks', async (ctx) => {
    await initBackend('cpu');
    const cpu = await decode();
    try {
      await initBackend('webgpu-software');
    } catch (err) {
      if (webgpuRequired()) throw webgpuMissing(err);
      ctx.skip();
    }
    const gpu = await decode();
    expect(tf.getBackend()).toBe('webgpu');
    expect(gpu.leaked).toBe(0);
    expect(gpu.out.tokens).toEqual(cpu.out.tokens);
    let worst = 0;
    cpu.out.logits!.forEach((row, r) => row.forEach((l, s) => (worst = Math.max(worst, maxAbsDiff(l, gpu.out.logits![r][s])))));
    expect(worst).toBeLessThan(1e-4);
    await initBackend('cpu');
  });
});
