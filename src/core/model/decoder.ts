/**
 * The Llama-style decoder: RMSNorm, RoPE (HF's rotate_half layout), grouped-query attention,
 * SwiGLU MLP, tied or untied output head, and a key/value cache.
 *
 * One function serves training (whole sequence, no cache), prefix sharing (prefix once, then
 * several continuations against its cache) and generation (one token at a time). Rows may hold
 * padding anywhere: `valid` masks padded keys and `positions` gives each real token its RoPE
 * position, so a padded row computes exactly what the unpadded sequence would.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { VlmConfig } from './config';
import type { Ctx } from './layers';
import { activation, attend, dense, linear, mergeHeads, rmsNorm, splitHeads } from './layers';
import { namingFor } from './params';

/** Large negative instead of -inf: exp underflows to exactly 0 and no NaN can appear. */
const MASKED = -1e9;

export interface LayerKv {
  /** [B, KV, Tk, hd], RoPE already applied */
  k: tf.Tensor;
  /** [B, KV, Tk, hd] */
  v: tf.Tensor;
}

export interface KvCache {
  layers: LayerKv[];
  /** [B][Tk]: whether each cached slot is a real token (padding is never attended to). */
  keyValid: boolean[][];
}

export function disposeCache(cache: KvCache | null | undefined): void {
  if (!cache) return;
  for (const l of cache.layers) tf.dispose([l.k, l.v]);
}

/** cos/sin tables for given positions: [B, 1, T, hd] each (HF: emb = cat(freqs, freqs)). */
export function ropeTables(positions: number[][], hd: number, theta: number): { cos: tf.Tensor; sin: tf.Tensor } {
  const B = positions.length;
  const T = positions[0].length;
  const half = hd / 2;
  const cos = new Float32Array(B * T * hd);
  const sin = new Float32Array(B * T * hd);
  const invFreq = new Float64Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(theta, (2 * i) / hd);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const base = (b * T + t) * hd;
      for (let i = 0; i < half; i++) {
        const a = positions[b][t] * invFreq[i];
        cos[base + i] = cos[base + i + half] = Math.cos(a);
        sin[base + i] = sin[base + i + half] = Math.sin(a);
      }
    }
  }
  return { cos: tf.tensor4d(cos, [B, 1, T, hd]), sin: tf.tensor4d(sin, [B, 1, T, hd]) };
}

/** R [hd, hd] with x @ R = rotate_half(x) = [-x2, x1]. */
function rotationMatrix(hd: number): tf.Tensor {
  const half = hd / 2;
  const r = new Float32Array(hd * hd);
  for (let j = 0; j < half; j++) {
    r[(j + half) * hd + j] = -1;
    r[j * hd + j + half] = 1;
  }
  return tf.tensor2d(r, [hd, hd]);
}

/** x @ R over the last axis, as one plain 2-D matMul: [..., hd] -> [..., hd]. */
function rotateByMatrix(x: tf.Tensor): tf.Tensor {
  const hd = x.shape[x.rank - 1];
  return tf.reshape(tf.matMul(tf.reshape(x, [-1, hd]), rotationMatrix(hd)), x.shape);
}

/**
 * rotate_half as a matMul with a fixed signed permutation. Why: on wasm split + concat cost
 * ~2x more than the whole matMul (measured). R^T = -R, so the gradient is -rotate_half(dy).
 */
export const rotateHalf = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: rotateByMatrix(x), gradFunc: (dy: tf.Tensor) => [tf.neg(rotateByMatrix(dy))] };
}) as (x: tf.Tensor) => tf.Tensor;

/** x * cos + rotate_half(x) * sin, rotate_half([x1, x2]) = [-x2, x1]. x: [B, nh, T, hd]. */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  return tf.add(tf.mul(x, cos), tf.mul(rotateHalf(x), sin)); // [B, nh, T, hd]
}

/**
 * Additive mask [B, 1, Tq, Tk]: query slot Tpast+i sees key slot j when j <= Tpast+i and the
 * key is a real token. Slots are cache order; causality is by slot, RoPE by position.
 */
export function attentionMask(keyValid: boolean[][], Tq: number): tf.Tensor {
  const B = keyValid.length;
  const Tk = keyValid[0].length;
  const Tpast = Tk - Tq;
  const m = new Float32Array(B * Tq * Tk);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < Tq; i++) {
      const row = (b * Tq + i) * Tk;
      for (let j = 0; j < Tk; j++) {
        if (j > Tpast + i || !keyValid[b][j]) m[row + j] = MASKED;
      }
    }
  }
  return tf.tensor4d(m, [B, 1, Tq, Tk]);
}

/** Token embeddings: ids [B][T] -> [B, T, D]. tf.gather's gradient is registered on wasm too. */
export function embedTokens(ctx: Ctx, c: VlmConfig, ids: number[][]): tf.Tensor {
  const B = ids.length;
  const T = ids[0].length;
  const flat = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    if (ids[b].length !== T) throw new Error(`Expected every row of token ids to have length ${T}, but row ${b} has ${ids[b].length}`);
    for (let t = 0; t < T; t++) flat[b * T + t] = ids[b][t];
  }
  const table = ctx.params.get(`${namingFor(c).text}embed_tokens.weight`); // [V, D]
  return tf.reshape(tf.gather(table, tf.tensor1d(flat, 'int32')), [B, T, c.text.hiddenSize]); // [B, T, D]
}

export interface DecoderOut {
  /** [B, T, D], before the final norm */
  hidden: tf.Tensor;
  /** The cache extended by this chunk (only when asked for). */
  cache: KvCache | null;
}

/**
 * Runs every decoder layer over a chunk of T new slots.
 * embeds: [B, T, D]; positions: [B][T] RoPE positions; valid: [B][T] real tokens;
 * past: cache of earlier slots (or null); wantCache: return the extended cache.
 */
export function decoderLayers(
  ctx: Ctx,
  c: VlmConfig,
  embeds: tf.Tensor,
  positions: number[][],
  valid: boolean[][],
  past: KvCache | null,
  wantCache: boolean,
): DecoderOut {
  const t = c.text;
  const T = embeds.shape[1] as number;
  const hd = t.hiddenSize / t.numHeads;
  const keyValid = past ? past.keyValid.map((row, b) => [...row, ...valid[b]]) : valid.map((r) => [...r]);
  const mask = attentionMask(keyValid, T);
  const { cos, sin } = ropeTables(positions, hd, t.ropeTheta);
  const T0 = namingFor(c).text;
  const layers: LayerKv[] = [];
  let x = embeds;
  for (let i = 0; i < t.numLayers; i++) {
    const L = `${T0}layers.${i}.`;
    const h = rmsNorm(x, ctx.params.get(`${L}input_layernorm.weight`), t.rmsNormEps);
    const q = applyRope(splitHeads(linear(ctx, `${L}self_attn.q_proj`, h), t.numHeads), cos, sin); // [B, H, T, hd]
    let k = applyRope(splitHeads(linear(ctx, `${L}self_attn.k_proj`, h), t.numKeyValueHeads), cos, sin); // [B, KV, T, hd]
    let v = splitHeads(linear(ctx, `${L}self_attn.v_proj`, h), t.numKeyValueHeads); // [B, KV, T, hd]
    if (past) {
      k = tf.concat([past.layers[i].k, k], 2); // [B, KV, Tpast+T, hd]
      v = tf.concat([past.layers[i].v, v], 2);
    }
    if (wantCache) layers.push({ k, v });
    const a = mergeHeads(attend(q, k, v, mask)); // [B, T, H*hd]
    x = tf.add(x, linear(ctx, `${L}self_attn.o_proj`, a));
    const h2 = rmsNorm(x, ctx.params.get(`${L}post_attention_layernorm.weight`), t.rmsNormEps);
    const gate = activation(linear(ctx, `${L}mlp.gate_proj`, h2), 'silu'); // [B, T, I]
    const up = linear(ctx, `${L}mlp.up_proj`, h2); // [B, T, I]
    x = tf.add(x, linear(ctx, `${L}mlp.down_proj`, tf.mul(gate, up))); // [B, T, D]
  }
  return { hidden: x, cache: wantCache ? { layers, keyValid } : null };
}

/** Final RMSNorm + output head on any rows of hidden states: [..., D] -> [..., V]. */
export function outputLogits(ctx: Ctx, c: VlmConfig, hidden: tf.Tensor): tf.Tensor {
  const n = namingFor(c);
  const h = rmsNorm(hidden, ctx.params.get(`${n.text}norm.weight`), c.text.rmsNormEps);
  const head = c.text.tieWordEmbeddings ? ctx.params.get(`${n.text}embed_tokens.weight`) : ctx.params.get(n.lmHead); // [V, D]
  const D = c.text.hiddenSize;
  const lead = h.shape.slice(0, -1);
  return tf.reshape(dense(tf.reshape(h, [-1, D]), head), [...lead, c.text.vocabSize]); // [..., V]
}
