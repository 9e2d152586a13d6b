/**
 * The building blocks shared by the vision encoder and the decoder, in tfjs-core ops only
 * (every backend runs them, every op here has a gradient on cpu and wasm).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import type { HiddenAct } from './config';
import type { LoraState } from './lora';
import type { ParamStore } from './params';

/** What a forward pass reads: the weights, the adapters (null = switched off), dropout. */
export interface Ctx {
  params: ParamStore;
  lora: LoraState | null;
  /** LoRA dropout masks are drawn from it; absent = no dropout (evaluation, reference). */
  dropoutRng?: Rng;
}

/**
 * a @ b for 2-D a [N, K], b [K, M], with a gradient built from explicit transposes.
 * Why: on the wasm backend a matMul with transposeA/transposeB takes a slow path (~9x slower
 * than a plain one for our sizes, measured), and tfjs's own matMul gradient uses exactly those
 * flags. A transpose + plain matMul is much cheaper.
 */
export const matMul2d = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b), // [N, M]
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
      tf.matMul(dy, tf.transpose(saved[1])), // [N, K]
      tf.matMul(tf.transpose(saved[0]), dy), // [K, M]
    ],
  };
}) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/** x @ W^T (+ b) for W stored [out, in] as in PyTorch. x: [..., in] -> [..., out]. */
export function dense(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.rank - 1];
  const lead = x.shape.slice(0, -1);
  const x2 = x.rank === 2 ? x : tf.reshape(x, [-1, inDim]); // [N, in]
  let y = matMul2d(x2, tf.transpose(w)); // [N, out]
  if (b) y = tf.add(y, b);
  return x.rank === 2 ? y : tf.reshape(y, [...lead, w.shape[0]]); // [..., out]
}

/** Inverted dropout mask drawn from the project's generator (same seed, same mask on every backend). */
export function dropoutMask(shape: number[], p: number, rng: Rng): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const m = new Float32Array(size);
  const keep = 1 / (1 - p);
  for (let i = 0; i < size; i++) m[i] = rng.next() < p ? 0 : keep;
  return tf.tensor(m, shape, 'float32');
}

/**
 * How an adapter is applied when there is no dropout mask. `merged` (default) computes
 * x (W + s B A)^T: one matMul on the activations whatever the rank, plus a tiny [out, r] x
 * [r, in] product (and in backward one [out, in] weight gradient). `branch` computes
 * x W^T + s (x A^T) B^T: two skinny matMuls per direction, cheaper only for very small ranks.
 * Both are the same function; the tests check each against finite differences.
 */
export const loraForward = { mode: 'merged' as 'merged' | 'branch' };

/**
 * A Hugging Face Linear by module path, with its LoRA adapter when adapters are on:
 * y = x W^T + b + (alpha/r) * dropout(x) A^T B^T   (PEFT's lora.Linear).
 */
export function linear(ctx: Ctx, path: string, x: tf.Tensor): tf.Tensor {
  const w = ctx.params.get(`${path}.weight`); // [out, in]
  const bName = `${path}.bias`;
  const bias = ctx.params.has(bName) ? ctx.params.get(bName) : undefined;
  const ad = ctx.lora?.adapters.get(path);
  if (!ctx.lora || !ad) return dense(x, w, bias);
  const s = ctx.lora.scaling;
  const p = ctx.lora.config.dropout;
  const drop = p > 0 && ctx.dropoutRng !== undefined;
  if (!drop && loraForward.mode === 'merged') {
    // With B = 0 the product is exactly 0 and W + 0 == W bit for bit: policy == reference.
    return dense(x, tf.add(w, tf.mul(matMul2d(ad.b, ad.a), s)), bias); // W_eff: [out, in]
  }
  const xd = drop ? tf.mul(x, dropoutMask(x.shape, p, ctx.dropoutRng as Rng)) : x;
  const low = dense(xd, ad.a); // [..., r]
  const up = dense(low, ad.b); // [..., out]
  return tf.add(dense(x, w, bias), tf.mul(up, s));
}

export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true); // [..., 1]
  const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normed, gamma), beta);
}

/** Llama RMSNorm: x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  const ms = tf.mean(tf.square(x), -1, true); // [..., 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), weight);
}

export function activation(x: tf.Tensor, kind: HiddenAct | 'silu'): tf.Tensor {
  switch (kind) {
    case 'gelu': // exact: x * Phi(x)
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
    case 'gelu_pytorch_tanh': {
      // x*x*x, not tf.pow(x, 3): pow is ~20x slower on wasm (measured).
      const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
    }
    case 'quick_gelu':
      return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
    case 'silu':
      return tf.mul(x, tf.sigmoid(x));
  }
}

/**
 * Scaled dot-product attention with grouped-query heads, no weights.
 * q: [B, H, Tq, hd], k/v: [B, KV, Tk, hd], mask: additive [B, 1, Tq, Tk] or null.
 * Query head h reads key/value head floor(h / (H/KV)) (HF's repeat_kv), done by folding the
 * group into the query axis instead of copying k and v.
 */
export function attend(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | null): tf.Tensor {
  const [B, H, Tq, hd] = q.shape as number[];
  const [, KV, Tk] = k.shape as number[];
  const G = H / KV;
  const qs = tf.reshape(tf.mul(q, 1 / Math.sqrt(hd)), [B, KV, G * Tq, hd]); // [B, KV, G*Tq, hd]
  let scores = tf.reshape(tf.matMul(qs, k, false, true), [B, H, Tq, Tk]); // [B, H, Tq, Tk]
  if (mask) scores = tf.add(scores, mask);
  const probs = tf.reshape(tf.softmax(scores, -1), [B, KV, G * Tq, Tk]); // [B, KV, G*Tq, Tk]
  return tf.reshape(tf.matMul(probs, v), [B, H, Tq, hd]); // [B, H, Tq, hd]
}

/** [B, T, nh*hd] -> [B, nh, T, hd] */
export function splitHeads(x: tf.Tensor, nh: number): tf.Tensor {
  const [B, T, D] = x.shape as number[];
  return tf.transpose(tf.reshape(x, [B, T, nh, D / nh]), [0, 2, 1, 3]);
}

/** [B, nh, T, hd] -> [B, T, nh*hd] */
export function mergeHeads(x: tf.Tensor): tf.Tensor {
  const [B, nh, T, hd] = x.shape as number[];
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B, T, nh * hd]);
}
