/** The same training run on the cpu and wasm backends. */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { BackendName } from '../backend';
import { initBackend } from '../backend';
import { trainPreference, trainSft } from './loop';
import { TinyPreferenceSource, TinySftSource, tinyModel } from './test-fixtures';
import { webgpuMissing, webgpuRequired } from '../webgpu-test-env';

async function runOn(backend: BackendName, withSft = true) {
  await initBackend(backend);
  const model = tinyModel();
  const metrics: Record<string, number>[] = [];
  await trainPreference(model, new TinyPreferenceSource(8), { batchSize: 2, gradAccum: 2, maxSteps: 4, learningRate: 5e-3, seed: 6 }, {
    onStep: (e) => metrics.push(e.metrics),
  });
  // data(), not dataSync(): webgpu in Node has no synchronous readback.
  const weights = await Promise.all(model.trainableVariables().map(async (v) => Array.from(await v.data())));
  model.dispose();
  if (!withSft) return { metrics, weights, sftLosses: [] as number[], backend: tf.getBackend() };
  const sft = tinyModel(2, false);
  const sftLosses: number[] = [];
  await trainSft(sft, new TinySftSource(8), { batchSize: 4, gradAccum: 1, maxSteps: 3, learningRate: 1e-3, seed: 6 }, {
    onStep: (e) => sftLosses.push(e.metrics.loss),
  });
  sft.dispose();
  return { metrics, weights, sftLosses, backend: tf.getBackend() };
}

describe('backends', () => {
  // Must run under CI=true or MDPO_REQUIRE_WEBGPU=1 (software Vulkan); elsewhere skipped without an adapter.
  it('webgpu (software adapter) agrees with cpu to 1e-5, with no synchronous reads in the loop', async (ctx) => {
    const cpu = await runOn('cpu', false);
    try {
      await initBackend('webgpu-software');
    } catch (err) {
      if (webgpuRequired()) throw webgpuMissing(err);
      ctx.skip();
    }
    const gpu = await runOn('webgpu-software', false);
    expect(gpu.backend).toBe('webgpu');
    cpu.metrics.forEach((m, s) => {
      for (const [k, v] of Object.entries(m)) {
        const tol = k === 'grad_norm' ? 1e-4 * v : 1e-5;
        expect(Math.abs(v - gpu.metrics[s][k]), `${k} at step ${s + 1}`).toBeLessThan(tol);
      }
    });
    let worst = 0;
    cpu.weights.forEach((w, i) => w.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - gpu.weights[i][j])))));
    expect(worst).toBeLessThan(1e-5);
    await initBackend('cpu');
  });

  it('cpu and wasm agree to 1e-5 (every metric of every step, the adapters after 4 steps, SFT losses)', async () => {
    const cpu = await runOn('cpu');
    const wasm = await runOn('wasm');
    expect([cpu.backend, wasm.backend]).toEqual(['cpu', 'wasm']);
    cpu.metrics.forEach((m, s) => {
      for (const [k, v] of Object.entries(m)) {
        if (k === 'grad_norm') expect(Math.abs(v - wasm.metrics[s][k]) / v, `${k} at step ${s + 1}`).toBeLessThan(1e-4);
        else expect(Math.abs(v - wasm.metrics[s][k]), `${k} at step ${s + 1}`).toBeLessThan(1e-5);
      }
    });
    let worst = 0;
    cpu.weights.forEach((w, i) => w.forEach((x, j) => (worst = Math.max(worst, Math.abs(x - wasm.weights[i][j])))));
    expect(worst).toBeLessThan(1e-5);
    cpu.sftLosses.forEach((l, i) => expect(Math.abs(l - wasm.sftLosses[i])).toBeLessThan(1e-5));
  });
});
