/** cpu and wasm run the same model to 1e-5 (log-probs and gradients), from the same seed. */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { DEFAULT_LORA } from './lora';
import { Vlm } from './model';
import { TINY, raggedBatch, seeded, seededPixels } from './test-utils';

interface Run {
  logps: Float32Array;
  ref: Float32Array;
  grads: Map<string, Float32Array>;
}

function run(): Run {
  const m = Vlm.create(TINY, new Rng(1));
  m.addLora({ ...DEFAULT_LORA, rank: 4, alpha: 8 }, new Rng(2));
  for (const ad of m.lora!.adapters.values()) ad.b.assign(tf.tensor(seeded(ad.b.size, 3, -0.2, 0.2), ad.b.shape));
  const px = seededPixels(3, TINY, 4);
  const batch = { pixels: px, ...raggedBatch(TINY, 3, 5) };
  const { value, grads } = tf.variableGrads(() => tf.sum(m.sequenceLogProbs(batch)) as tf.Scalar, m.trainableVariables());
  const out: Run = {
    logps: m.sequenceLogProbs(batch).dataSync() as Float32Array,
    ref: m.sequenceLogProbs(batch, { lora: false }).dataSync() as Float32Array,
    grads: new Map(m.trainableVariables().map((v) => [m.nameOf(v), grads[v.name].dataSync() as Float32Array])),
  };
  tf.dispose([value, ...Object.values(grads)]);
  // Full fine-tuning gradients too: vision tower, connector, embedding table (gather's gradient
  // goes through the UnsortedSegmentSum kernel registered for wasm).
  m.removeLora();
  const full = tf.variableGrads(() => m.sftLoss(batch), m.trainableVariables());
  for (const v of m.trainableVariables()) out.grads.set(m.nameOf(v), full.grads[v.name].dataSync() as Float32Array);
  tf.dispose([full.value, px, ...Object.values(full.grads)]);
  m.dispose();
  return out;
}

/** max |a - b| / max(1, |a|): absolute for small values, relative for large log-probs. */
function worst(a: Float32Array, b: Float32Array): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) w = Math.max(w, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(a[i])));
  return w;
}

describe('cpu vs wasm', () => {
  it('agree to 1e-5 on log-probs (policy and reference), every LoRA gradient and every full-SFT gradient', async () => {
    await initBackend('cpu');
    const cpu = run();
    await initBackend('wasm');
    const wasm = run();
    expect(worst(cpu.logps, wasm.logps)).toBeLessThan(1e-5);
    expect(worst(cpu.ref, wasm.ref)).toBeLessThan(1e-5);
    let g = 0;
    for (const [name, a] of cpu.grads) g = Math.max(g, worst(a, wasm.grads.get(name)!));
    expect(cpu.grads.size).toBeGreaterThan(2 * 7 * TINY.text.numLayers + 40);
    expect(g).toBeLessThan(1e-5);
    console.log(`cpu vs wasm: logps ${worst(cpu.logps, wasm.logps).toExponential(2)}, grads ${g.toExponential(2)}`);
  });
});
