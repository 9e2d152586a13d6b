/**
 * The vision tower (CLIP/SigLIP-style ViT) and the connector that maps its features into the
 * decoder's embedding space (LLaVA's mlp2x_gelu or Idefics3's pixel shuffle + linear).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { VlmConfig } from './config';
import type { Ctx } from './layers';
import { activation, attend, dense, layerNorm, linear, mergeHeads, splitHeads } from './layers';
import { connectorModules, namingFor } from './params';

/**
 * Cuts images into flattened patches in the Conv2d weight's (c, kh, kw) order, so that a
 * conv2d with stride = kernel = P equals patches @ W.reshape(D, C*P*P)^T. Done with
 * reshape/transpose (conv2d's filter gradient is missing on wasm), ranks <= 5.
 * pixels: [B, H, W, C] -> [B, N, C*P*P], N = (H/P)*(W/P) in row-major patch order.
 */
export function patchify(pixels: tf.Tensor, P: number): tf.Tensor {
  const [B, H, W, C] = pixels.shape as number[];
  const gh = H / P;
  const gw = W / P;
  const x = tf.reshape(pixels, [B * gh, P, gw, P, C]); // [B*gh, kh, gw, kw, C]
  const t = tf.transpose(x, [0, 2, 4, 1, 3]); // [B*gh, gw, C, kh, kw]
  return tf.reshape(t, [B, gh * gw, C * P * P]); // [B, N, C*P*P]
}

/** Patch embedding + optional class token + position embeddings: [B, H, W, C] -> [B, N(+1), D]. */
export function visionEmbeddings(ctx: Ctx, c: VlmConfig, pixels: tf.Tensor): tf.Tensor {
  const v = c.vision;
  const E = `${namingFor(c).vision}embeddings.`;
  const w = ctx.params.get(`${E}patch_embedding.weight`); // [D, C, P, P]
  const w2 = tf.reshape(w, [v.hiddenSize, -1]); // [D, C*P*P]
  const bias = v.patchBias ? ctx.params.get(`${E}patch_embedding.bias`) : undefined;
  let x = dense(patchify(pixels, v.patchSize), w2, bias); // [B, N, D]
  if (v.useClassToken) {
    const B = pixels.shape[0];
    const cls = tf.tile(tf.reshape(ctx.params.get(`${E}class_embedding`), [1, 1, v.hiddenSize]), [B, 1, 1]); // [B, 1, D]
    x = tf.concat([cls, x], 1); // [B, N+1, D]
  }
  return tf.add(x, ctx.params.get(`${E}position_embedding.weight`)); // [B, N(+1), D]
}

/** One pre-norm encoder layer: x + attn(ln1(x)); x + mlp(ln2(x)). x: [B, N, D]. */
export function visionLayer(ctx: Ctx, c: VlmConfig, i: number, x: tf.Tensor): tf.Tensor {
  const v = c.vision;
  const L = `${namingFor(c).vision}encoder.layers.${i}.`;
  const p = ctx.params;
  const ln = (name: string, t: tf.Tensor) =>
    layerNorm(t, p.get(`${L}${name}.weight`), p.get(`${L}${name}.bias`), v.layerNormEps);
  const h = ln('layer_norm1', x);
  const q = splitHeads(linear(ctx, `${L}self_attn.q_proj`, h), v.numHeads); // [B, nh, N, hd]
  const k = splitHeads(linear(ctx, `${L}self_attn.k_proj`, h), v.numHeads);
  const vv = splitHeads(linear(ctx, `${L}self_attn.v_proj`, h), v.numHeads);
  const a = mergeHeads(attend(q, k, vv, null)); // [B, N, D]
  x = tf.add(x, linear(ctx, `${L}self_attn.out_proj`, a));
  const m = activation(linear(ctx, `${L}mlp.fc1`, ln('layer_norm2', x)), v.hiddenAct); // [B, N, I]
  return tf.add(x, linear(ctx, `${L}mlp.fc2`, m)); // [B, N, D]
}

/**
 * Features of the chosen layer, patches only (a class token is dropped again, as LLaVA's
 * "default" select strategy does). pixels: [B, H, W, C] normalised -> [B, N, Dv].
 */
export function visionFeatures(ctx: Ctx, c: VlmConfig, pixels: tf.Tensor): tf.Tensor {
  const v = c.vision;
  if (pixels.rank !== 4 || pixels.shape[1] !== v.imageSize || pixels.shape[2] !== v.imageSize || pixels.shape[3] !== 3) {
    throw new Error(`Expected pixels of shape [B, ${v.imageSize}, ${v.imageSize}, 3], but got [${pixels.shape}]`);
  }
  const V = namingFor(c).vision;
  let x = visionEmbeddings(ctx, c, pixels);
  if (v.preLayerNorm) x = layerNorm(x, ctx.params.get(`${V}pre_layrnorm.weight`), ctx.params.get(`${V}pre_layrnorm.bias`), v.layerNormEps);
  // hidden_states[0] is the embedding output, hidden_states[i] the output of layer i.
  const want = v.featureLayer < 0 ? v.numLayers + 1 + v.featureLayer : v.featureLayer;
  for (let i = 0; i < want; i++) x = visionLayer(ctx, c, i, x);
  if (v.postLayerNorm) x = layerNorm(x, ctx.params.get(`${V}post_layernorm.weight`), ctx.params.get(`${V}post_layernorm.bias`), v.layerNormEps);
  if (v.useClassToken) x = tf.slice(x, [0, 1, 0], [-1, -1, -1]); // [B, N, Dv]
  return x;
}

/**
 * Idefics3's pixel shuffle (space-to-depth over the patch grid), step for step as in HF:
 * [B, seq, D] -> [B, seq/s^2, D*s^2].
 */
export function pixelShuffle(x: tf.Tensor, s: number): tf.Tensor {
  const [B, seq, D] = x.shape as number[];
  const side = Math.round(Math.sqrt(seq));
  let t = tf.reshape(x, [B, side, side / s, D * s]); // [B, h, w/s, D*s]
  t = tf.transpose(t, [0, 2, 1, 3]); // [B, w/s, h, D*s]
  t = tf.reshape(t, [B, side / s, side / s, D * s * s]); // [B, w/s, h/s, D*s*s]
  t = tf.transpose(t, [0, 2, 1, 3]); // [B, h/s, w/s, D*s*s]
  return tf.reshape(t, [B, seq / (s * s), D * s * s]); // [B, seq/s^2, D*s^2]
}

/** Vision features -> decoder embeddings: [B, N, Dv] -> [B, Ntok, Dtext]. */
export function connector(ctx: Ctx, c: VlmConfig, feats: tf.Tensor): tf.Tensor {
  const [m1, m2] = connectorModules(c);
  if (c.connector.type === 'pixel_shuffle') {
    return linear(ctx, m1, pixelShuffle(feats, c.connector.scaleFactor ?? 2));
  }
  return linear(ctx, m2, activation(linear(ctx, m1, feats), 'gelu'));
}
