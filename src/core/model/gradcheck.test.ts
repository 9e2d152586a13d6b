/**
 * Finite-difference gradient checks (float32, central differences) for every block and for the
 * whole log-prob path. The checker compares tfjs's analytic gradient with
 * (f(x + eps) - f(x - eps)) / 2eps at the coordinates with the largest gradients plus a few
 * random ones; error = |analytic - numeric| / max(|analytic|, |numeric|, floor).
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { applyRope, attentionMask, ropeTables } from './decoder';
import type { Ctx } from './layers';
import { activation, attend, dense, layerNorm, linear, loraForward, rmsNorm } from './layers';
import { DEFAULT_LORA, LoraState } from './lora';
import { Vlm } from './model';
import { ParamStore, initParams } from './params';
import { TINY, maxAbsDiff, raggedBatch, seeded, seededPixels } from './test-utils';
import { patchify, pixelShuffle } from './vision';

interface CheckOptions {
  eps?: number;
  floor?: number;
  top?: number;
  random?: number;
}

/** Max relative error over the checked coordinates of every variable. */
function gradCheck(loss: () => tf.Scalar, vars: tf.Variable[], o: CheckOptions = {}): number {
  const { eps = 1e-2, floor = 1e-3, top = 3, random = 2 } = o;
  const rng = new Rng(99);
  const { value, grads } = tf.variableGrads(loss, vars);
  value.dispose();
  let worst = 0;
  for (const v of vars) {
    const g = grads[v.name].dataSync().slice();
    const order = Array.from(g.keys()).sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]));
    const picks = new Set(order.slice(0, top));
    for (let i = 0; i < random; i++) picks.add(rng.int(g.length));
    const base = v.dataSync().slice();
    const at = (i: number, delta: number) => {
      const x = base.slice();
      x[i] += delta;
      v.assign(tf.tensor(x, v.shape));
      return tf.tidy(() => loss().dataSync()[0]);
    };
    for (const i of picks) {
      const numeric = (at(i, eps) - at(i, -eps)) / (2 * eps);
      const err = Math.abs(g[i] - numeric) / Math.max(Math.abs(g[i]), Math.abs(numeric), floor);
      worst = Math.max(worst, err);
    }
    v.assign(tf.tensor(base, v.shape));
  }
  tf.dispose(Object.values(grads));
  return worst;
}

let counter = 0;
const variable = (shape: number[], seed: number, scale = 1) =>
  tf.variable(tf.tensor(seeded(shape.reduce((a, b) => a * b, 1), seed, -scale, scale), shape), true, `gc${++counter}`);

/** A fixed random projection so the loss mixes every output element. */
const project = (y: tf.Tensor, seed: number) => tf.sum(tf.mul(y, tf.tensor(seeded(y.size, seed), y.shape))) as tf.Scalar;

const errors: Record<string, number> = {};

describe('finite-difference gradient checks (wasm, float32)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('attention: GQA + RoPE + causal/padding mask', () => {
    const [B, H, KV, T, hd] = [2, 4, 2, 5, 6];
    const q = variable([B, H, T, hd], 1);
    const k = variable([B, KV, T, hd], 2);
    const v = variable([B, KV, T, hd], 3);
    const valid = [[true, true, true, true, true], [true, true, true, false, false]];
    const loss = () =>
      tf.tidy(() => {
        const { cos, sin } = ropeTables([[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]], hd, 10000);
        const y = attend(applyRope(q, cos, sin), applyRope(k, cos, sin), v, attentionMask(valid, T));
        return project(y, 4);
      });
    errors.attention = gradCheck(loss, [q, k, v]);
    expect(errors.attention).toBeLessThan(1e-2);
  });

  it('MLP: SwiGLU and the three GELUs', () => {
    const x = variable([3, 8], 5);
    const wg = variable([12, 8], 6, 0.5);
    const wu = variable([12, 8], 7, 0.5);
    const wd = variable([8, 12], 8, 0.5);
    const swiglu = () => tf.tidy(() => project(dense(tf.mul(activation(dense(x, wg), 'silu'), dense(x, wu)), wd), 9));
    errors.swiglu = gradCheck(swiglu, [x, wg, wu, wd]);
    expect(errors.swiglu).toBeLessThan(1e-2);
    for (const act of ['gelu', 'gelu_pytorch_tanh', 'quick_gelu'] as const) {
      const f = () => tf.tidy(() => project(dense(activation(dense(x, wg), act), wd), 10));
      errors[act] = gradCheck(f, [x, wg, wd]);
      expect(errors[act]).toBeLessThan(1e-2);
    }
  });

  it('RMSNorm and LayerNorm', () => {
    const x = variable([4, 10], 11, 2);
    const g = variable([10], 12);
    const b = variable([10], 13);
    errors.rmsNorm = gradCheck(() => tf.tidy(() => project(rmsNorm(x, g, 1e-5), 14)), [x, g]);
    errors.layerNorm = gradCheck(() => tf.tidy(() => project(layerNorm(x, g, b, 1e-5), 15)), [x, g, b]);
    expect(errors.rmsNorm).toBeLessThan(1e-2);
    expect(errors.layerNorm).toBeLessThan(1e-2);
  });

  it('LoRA linear (with bias and a fixed dropout mask)', () => {
    const params = new ParamStore();
    params.set('m.weight', tf.tensor(seeded(6 * 5, 16), [6, 5]));
    params.set('m.bias', tf.tensor(seeded(6, 17), [6]));
    const lora = new LoraState({ ...DEFAULT_LORA, rank: 3, alpha: 6, dropout: 0.3 });
    lora.put('m', tf.tensor(seeded(15, 18), [3, 5]), tf.tensor(seeded(18, 19), [6, 3]));
    const x = variable([2, 4, 5], 20);
    const ad = lora.adapters.get('m')!;
    // Same dropout draws every evaluation: a fresh Rng with the same seed each call.
    const loss = () => tf.tidy(() => project(linear({ params, lora, dropoutRng: new Rng(7) } as Ctx, 'm', x), 21));
    const all = [x, ad.a, ad.b, params.get('m.weight'), params.get('m.bias')];
    errors.loraLinear = gradCheck(loss, all);
    expect(errors.loraLinear).toBeLessThan(1e-2);
    // Without dropout: the merged form x (W + s B A)^T and the two-matMul branch, same function.
    const plain = () => tf.tidy(() => project(linear({ params, lora } as Ctx, 'm', x), 21));
    const out: Record<string, Float32Array> = {};
    for (const mode of ['merged', 'branch'] as const) {
      loraForward.mode = mode;
      errors[`lora_${mode}`] = gradCheck(plain, all);
      expect(errors[`lora_${mode}`]).toBeLessThan(1e-2);
      out[mode] = tf.tidy(() => linear({ params, lora } as Ctx, 'm', x).dataSync() as Float32Array);
    }
    loraForward.mode = 'merged';
    expect(maxAbsDiff(out.merged, out.branch)).toBeLessThan(1e-5);
    lora.dispose();
    params.dispose();
  });

  it('patch embedding (reshape/transpose/matMul) and pixel shuffle', () => {
    const px = variable([2, 8, 8, 3], 22);
    const w = variable([5, 3, 4, 4], 23, 0.3);
    const loss = () => tf.tidy(() => project(dense(patchify(px, 4), tf.reshape(w, [5, -1])), 24));
    errors.patchEmbedding = gradCheck(loss, [px, w]);
    expect(errors.patchEmbedding).toBeLessThan(1e-2);
    const f = variable([2, 16, 3], 25);
    errors.pixelShuffle = gradCheck(() => tf.tidy(() => project(pixelShuffle(f, 2), 26)), [f]);
    expect(errors.pixelShuffle).toBeLessThan(1e-2);
  });

  it('patchify matches a direct conv2d with stride = kernel (forward)', () => {
    const px = tf.tensor(seeded(2 * 8 * 8 * 3, 27), [2, 8, 8, 3]) as tf.Tensor4D;
    const w = tf.tensor(seeded(5 * 3 * 4 * 4, 28), [5, 3, 4, 4]); // [out, in, kh, kw] (PyTorch)
    const ours = dense(patchify(px, 4), tf.reshape(w, [5, -1])); // [2, 4, 5]
    const conv = tf.reshape(tf.conv2d(px, tf.transpose(w, [2, 3, 1, 0]) as tf.Tensor4D, 4, 'valid'), [2, 4, 5]);
    expect(tf.max(tf.abs(tf.sub(ours, conv))).dataSync()[0]).toBeLessThan(1e-5);
    tf.dispose([px, w, ours, conv]);
  });

  it('whole model: sequence log-probs w.r.t. vision, connector, decoder and LoRA weights', () => {
    const m = new Vlm(TINY, initParams(TINY, new Rng(30), 0.2));
    m.addLora({ ...DEFAULT_LORA, rank: 2, alpha: 4 }, new Rng(31));
    for (const ad of m.lora!.adapters.values()) ad.b.assign(tf.tensor(seeded(ad.b.size, 32, -0.3, 0.3), ad.b.shape));
    // addLora froze the base (variableGrads skips non-trainable variables); unfreeze to check it.
    for (const [, v] of m.params.entries()) v.trainable = true;
    const px = seededPixels(2, TINY, 33);
    const batch = { pixels: px, ...raggedBatch(TINY, 2, 34) };
    const loss = () => tf.tidy(() => tf.mul(tf.sum(m.sequenceLogProbs(batch)), 0.1) as tf.Scalar);
    const V = 'vision_tower.vision_model.';
    const T = 'language_model.model.';
    const names = [
      `${V}embeddings.patch_embedding.weight`, `${V}embeddings.position_embedding.weight`,
      `${V}encoder.layers.0.self_attn.q_proj.weight`, `${V}encoder.layers.1.mlp.fc1.weight`, `${V}post_layernorm.weight`,
      'multi_modal_projector.linear_1.weight', `${T}embed_tokens.weight`, `${T}layers.0.self_attn.k_proj.weight`,
      `${T}layers.1.mlp.down_proj.weight`, `${T}layers.0.input_layernorm.weight`, `${T}norm.weight`,
    ];
    const lora = m.lora!.adapters;
    const vars = [...names.map((n) => m.params.get(n)), lora.get(`${T}layers.1.self_attn.v_proj`)!.a, lora.get(`${T}layers.0.mlp.up_proj`)!.b];
    errors.wholeModel = gradCheck(loss, vars, { floor: 1e-2 });
    expect(errors.wholeModel).toBeLessThan(2e-2);
    px.dispose();
    m.dispose();
    console.log('max relative gradient errors:', JSON.stringify(errors));
  });
});
