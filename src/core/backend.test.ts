import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { BackendError, initBackend, parseBackendChoice } from './backend';
import { unsortedSegmentSumValues } from './gradients';
import { webgpuMissing, webgpuRequired } from './webgpu-test-env';

/** A seeded, backend-independent input so both backends see the same numbers. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

interface GraphResult {
  loss: number;
  grads: Float32Array[];
}

/**
 * The small graph of the issue: matMul -> layer norm -> matMul -> log-softmax -> gather of
 * token log-probs (both as tf.gather, whose gradient needs UnsortedSegmentSum, and as a
 * one-hot product), plus a softmax-weighted sum.
 */
async function smallGraph(): Promise<GraphResult> {
  const [T, D, V] = [6, 8, 11];
  const x = tf.tensor2d(values(T * D, 1), [T, D]); // [T, D]
  const w1 = tf.tensor2d(values(D * D, 2), [D, D]); // [D, D]
  const gamma = tf.tensor1d(values(D, 3).map((v) => 1 + v));
  const w2 = tf.tensor2d(values(D * V, 4), [D, V]); // [D, V]
  const emb = tf.tensor2d(values(V * D, 5), [V, D]); // [V, D]
  const targets = tf.tensor1d([3, 0, 10, 3, 7, 1], 'int32'); // [T]

  const f = (x_: tf.Tensor, w1_: tf.Tensor, gamma_: tf.Tensor, w2_: tf.Tensor, emb_: tf.Tensor) => {
    const h = tf.matMul(tf.add(x_, tf.gather(emb_, targets)), w1_); // [T, D]
    const { mean, variance } = tf.moments(h, -1, true);
    const normed = tf.mul(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma_); // [T, D]
    const logits = tf.matMul(normed, w2_); // [T, V]
    const logp = tf.logSoftmax(logits); // [T, V]
    const picked = tf.sum(tf.mul(logp, tf.oneHot(targets, V)), -1); // [T]
    const probs = tf.softmax(logits); // [T, V]
    const spread = tf.sum(tf.mul(probs, logits)); // []
    return tf.add(tf.neg(tf.sum(picked)), tf.mul(spread, 0.1)) as tf.Scalar;
  };
  const inputs = [x, w1, gamma, w2, emb];
  const { value, grads } = tf.valueAndGrads(f)(inputs);
  // await data(): GPU backends in Node cannot read synchronously.
  const result = {
    loss: (await value.data())[0],
    grads: await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array)),
  };
  tf.dispose([value, ...grads, ...inputs, targets]);
  return result;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('compute backends', () => {
  it('cpu and wasm give the same values and gradients to 1e-5', async () => {
    const cpu = await initBackend('cpu');
    expect(cpu.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const onCpu = await smallGraph();

    const wasm = await initBackend('wasm');
    expect(wasm.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    const before = tf.memory().numTensors;
    const onWasm = await smallGraph();
    expect(tf.memory().numTensors).toBe(before);

    expect(Number.isFinite(onCpu.loss)).toBe(true);
    expect(Math.abs(onCpu.loss - onWasm.loss)).toBeLessThan(1e-5);
    expect(onWasm.grads).toHaveLength(onCpu.grads.length);
    onCpu.grads.forEach((g, i) => {
      expect(g.length).toBe(onWasm.grads[i].length);
      expect(maxAbsDiff(g, onWasm.grads[i])).toBeLessThan(1e-5);
    });
    // The embedding gradient is non-zero: the registered UnsortedSegmentSum kernel ran.
    expect(maxAbsDiff(onWasm.grads[4], new Float32Array(onWasm.grads[4].length))).toBeGreaterThan(0);
  });

  // Must run under CI=true or MDPO_REQUIRE_WEBGPU=1 (CI installs a software Vulkan driver);
  // elsewhere it runs where an adapter exists and is skipped otherwise.
  it('webgpu (software adapter) matches cpu to 1e-5', async (ctx) => {
    await initBackend('cpu');
    const onCpu = await smallGraph();
    try {
      await initBackend('webgpu-software');
    } catch (err) {
      if (webgpuRequired()) throw webgpuMissing(err);
      ctx.skip();
    }
    const before = tf.memory().numTensors;
    const onGpu = await smallGraph();
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(onCpu.loss - onGpu.loss)).toBeLessThan(1e-5);
    onCpu.grads.forEach((g, i) => expect(maxAbsDiff(g, onGpu.grads[i])).toBeLessThan(1e-5));
    await initBackend('cpu');
  });

  // Whether CUDA (tfjs-node-gpu) or libtensorflow start depends on the machine: a requested
  // backend either starts as itself, or is refused with an error naming it and the reason.
  it('a requested backend starts as itself or is refused, naming it and why', async () => {
    for (const name of ['cuda', 'tfjs-node'] as const) {
      const got = await initBackend(name).then(
        (info) => info,
        (err: unknown) => err,
      );
      if (got instanceof Error) {
        expect(got).toBeInstanceOf(BackendError);
        expect(got.message).toMatch(new RegExp(`^Backend "${name}" was requested but could not start: \\S`));
      } else {
        expect(got).toMatchObject({ name, tfjsName: 'tensorflow' });
        expect(tf.getBackend()).toBe('tensorflow');
      }
    }
    await initBackend('cpu');
  });

  it('requires the WebGPU tests under CI=true or MDPO_REQUIRE_WEBGPU=1, and says how to get an adapter', () => {
    expect(webgpuRequired({ CI: 'true' })).toBe(true);
    expect(webgpuRequired({ MDPO_REQUIRE_WEBGPU: '1' })).toBe(true);
    expect(webgpuRequired({})).toBe(false);
    expect(webgpuMissing(new Error('no adapter')).message).toMatch(/must run here .* no WebGPU adapter started: no adapter\. Install the software Vulkan driver/);
  });

  it('auto picks the first that starts and records what it skipped', async () => {
    const info = await initBackend('auto');
    expect(['cuda', 'webgpu', 'tfjs-node', 'wasm', 'cpu']).toContain(info.name);
    expect(tf.getBackend()).toBe(info.tfjsName);
    for (const s of info.skipped) expect(s.reason.length).toBeGreaterThan(0);
  });

  it('parses MDPO_BACKEND and rejects unknown names', () => {
    expect(parseBackendChoice(undefined)).toBe('auto');
    expect(parseBackendChoice(' WASM ')).toBe('wasm');
    expect(() => parseBackendChoice('tpu')).toThrow(/Unknown backend "tpu"/);
  });

  it('sums segments like TensorFlow, dropping out-of-range ids', () => {
    const x = new Float32Array([1, 2, 3, 4, 5, 6]); // [3, 2]
    expect(Array.from(unsortedSegmentSumValues(x, [1, 1, 5], 2, 2))).toEqual([0, 0, 4, 6]);
  });
});
