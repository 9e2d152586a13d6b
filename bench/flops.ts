/**
 * Analytic FLOP counts (matrix products only; a multiply-add is 2 FLOPs) of what a step
 * EXECUTES, forward + backward, for LoRA training where only the adapters get gradients:
 *
 *  - frozen linear: forward 2nIO; backward dX only (2nIO), none when its input needs no
 *    gradient (layer 0's q/k/v read the embeddings, which are constants);
 *  - LoRA branch (rank r): forward 2nr(I+O); backward dA, dB and dX: 2x forward (no dX at
 *    layer 0's q/k/v);
 *  - attention QK^T and PV: forward 4 * rows * Tq * Tk * D; backward 2x forward;
 *  - output head at M positions: forward 2MDV, backward dX only (the head is frozen);
 *  - vision tower + connector: forward only (frozen, before any adapter).
 *
 * Elementwise ops (norms, RoPE, softmax, activations) are not counted: they are O(n*D)
 * against the O(n*D^2) products, and the profile reports their time separately.
 */
import type { VlmConfig } from '../src/core/model/config';
import { numImageTokens } from '../src/core/model/config';

/** One decoder chunk: `rows` sequences of Tq new slots attending to Tk keys (Tk >= Tq). */
export interface Chunk {
  rows: number;
  Tq: number;
  Tk: number;
}

export interface Pass {
  chunks: Chunk[];
  /** Output-head positions (answer slots, or every slot for a full-logits head). */
  headPositions: number;
  /** Adapters on (policy) or off (reference). */
  lora: boolean;
  /** Backward through it (policy forward inside the gradient). */
  grad: boolean;
}

export interface StepPlan {
  /** Images through the vision tower + connector this step. */
  images: number;
  passes: Pass[];
}

export interface FlopBreakdown {
  vision: number;
  decoderForward: number;
  decoderBackward: number;
  head: number;
  total: number;
}

export function visionFlops(c: VlmConfig, images: number): number {
  const v = c.vision;
  const N = (v.imageSize / v.patchSize) ** 2;
  const D = v.hiddenSize;
  const patch = 2 * N * 3 * v.patchSize * v.patchSize * D;
  const layer = N * (2 * 4 * D * D + 2 * 2 * D * v.intermediateSize) + 4 * N * N * D;
  const conn = c.connector.type === 'mlp2x_gelu' ? 2 * N * (D * c.text.hiddenSize + c.text.hiddenSize ** 2) : 2 * N * D * c.text.hiddenSize;
  return images * (patch + v.numLayers * layer + conn);
}

/**
 * How the model applies LoRA (src/core/model/layers.ts `loraForward.mode`):
 *  - 'branch': x W^T + s (x A^T) B^T, tfjs's own matMul gradients (dX only for frozen W);
 *  - 'merged': x (W + s B A)^T through a custom-gradient 2-D matMul, whose backward computes
 *    dX and dW_eff eagerly (then dB, dA from dW_eff: [out, in] x [in, r] products).
 */
export type LoraMode = 'branch' | 'merged';

/** Forward and backward FLOPs of the decoder over one chunk. */
export function chunkFlops(c: VlmConfig, rank: number, ch: Chunk, lora: boolean, grad: boolean, mode: LoraMode = 'branch'): { fwd: number; bwd: number } {
  const t = c.text;
  const D = t.hiddenSize;
  const hd = D / t.numHeads;
  const Dkv = t.numKeyValueHeads * hd;
  const n = ch.rows * ch.Tq;
  const linears: [string, number, number][] = [
    ['q', D, D], ['k', D, Dkv], ['v', D, Dkv], ['o', D, D], ['gate', D, t.intermediateSize], ['up', D, t.intermediateSize], ['down', t.intermediateSize, D],
  ];
  let fwd = 0;
  let bwd = 0;
  for (let layer = 0; layer < t.numLayers; layer++) {
    for (const [name, I, O] of linears) {
      const constInput = layer === 0 && (name === 'q' || name === 'k' || name === 'v');
      const base = 2 * n * I * O;
      if (lora && mode === 'merged') {
        fwd += base + 2 * O * rank * I; // x W_eff^T, W_eff = W + s B A
        if (grad) bwd += 2 * base + 4 * O * rank * I; // dX and dW_eff (eager), then dB and dA
        continue;
      }
      const ad = lora ? 2 * n * rank * (I + O) : 0;
      fwd += base + ad;
      if (grad) bwd += (constInput ? 0 : base) + (lora ? 2 * ad - (constInput ? 2 * n * rank * I : 0) : 0);
    }
    const att = 4 * ch.rows * ch.Tq * ch.Tk * D;
    fwd += att;
    if (grad) bwd += 2 * att;
  }
  return { fwd, bwd };
}

export function stepFlops(c: VlmConfig, rank: number, plan: StepPlan, mode: LoraMode = 'branch'): FlopBreakdown {
  const out: FlopBreakdown = { vision: visionFlops(c, plan.images), decoderForward: 0, decoderBackward: 0, head: 0, total: 0 };
  for (const p of plan.passes) {
    for (const ch of p.chunks) {
      const f = chunkFlops(c, rank, ch, p.lora, p.grad, mode);
      out.decoderForward += f.fwd;
      out.decoderBackward += f.bwd;
    }
    const head = 2 * p.headPositions * c.text.hiddenSize * c.text.vocabSize;
    out.head += p.grad ? 2 * head : head;
  }
  out.total = out.vision + out.decoderForward + out.decoderBackward + out.head;
  return out;
}

/** Lengths of one batch of pairs, as the plans below need them. */
export interface BatchShape {
  pairs: number;
  prompt: number[];
  chosen: number[];
  rejected: number[];
}

const maxOf = (a: number[]) => Math.max(...a);
const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);

/**
 * The app's step (src/core/train: one policy forward over [y_w|m; y_l|m; y_w|m'] padded to the
 * longest row, head at answer slots; reference log-probs cached, or recomputed when `refEveryStep`).
 */
export function appPlan(c: VlmConfig, b: BatchShape, withImageless: boolean, refEveryStep: boolean): StepPlan {
  const N = numImageTokens(c);
  const lens = [...b.prompt.map((p, i) => p + b.chosen[i]), ...b.prompt.map((p, i) => p + b.rejected[i])];
  if (withImageless) lens.push(...b.prompt.map((p, i) => p + b.chosen[i]));
  const T = 1 + N + maxOf(lens);
  const rows = lens.length;
  const M = sum(b.chosen) + sum(b.rejected) + (withImageless ? sum(b.chosen) : 0);
  const policy: Pass = { chunks: [{ rows, Tq: T, Tk: T }], headPositions: M, lora: true, grad: true };
  const passes = [policy];
  if (refEveryStep) passes.push({ ...policy, lora: false, grad: false });
  return { images: rows * (refEveryStep ? 2 : 1), passes };
}

/**
 * The TRL / authors' step, as the PyTorch peer runs it: one forward over [y_w; y_l] (padded
 * to the longest of the 2b rows), one over [y_w | m'] (padded to its own longest), the
 * reference's two forwards every step, logits at EVERY slot.
 */
export function trlPlan(c: VlmConfig, b: BatchShape, withImageless: boolean): StepPlan {
  const N = numImageTokens(c);
  const cr = [...b.prompt.map((p, i) => p + b.chosen[i]), ...b.prompt.map((p, i) => p + b.rejected[i])];
  const T1 = 1 + N + maxOf(cr);
  const passes: Pass[] = [];
  let images = 0;
  for (const lora of [true, false]) {
    passes.push({ chunks: [{ rows: 2 * b.pairs, Tq: T1, Tk: T1 }], headPositions: 2 * b.pairs * T1, lora, grad: lora });
    images += 2 * b.pairs;
    if (withImageless) {
      const T2 = 1 + N + maxOf(b.prompt.map((p, i) => p + b.chosen[i]));
      passes.push({ chunks: [{ rows: b.pairs, Tq: T2, Tk: T2 }], headPositions: b.pairs * T2, lora, grad: lora });
      images += b.pairs;
    }
  }
  return { images, passes };
}

/** The FLOPs every implementation must do at least: one policy forward + backward per scored row, no padding, head at answer slots. */
export function minimalPlan(c: VlmConfig, b: BatchShape, withImageless: boolean): StepPlan {
  const N = numImageTokens(c);
  const chunks: Chunk[] = [];
  const add = (p: number, a: number) => chunks.push({ rows: 1, Tq: 1 + N + p + a, Tk: 1 + N + p + a });
  b.prompt.forEach((p, i) => {
    add(p, b.chosen[i]);
    add(p, b.rejected[i]);
    if (withImageless) add(p, b.chosen[i]);
  });
  const M = sum(b.chosen) + sum(b.rejected) + (withImageless ? sum(b.chosen) : 0);
  return { images: b.pairs * (withImageless ? 2 : 1), passes: [{ chunks, headPositions: M, lora: true, grad: true }] };
}

/**
 * Our model's step under the ablation switches: 'rows' = one forward over the 3 row sets
 * (appPlan); 'trl' = [y_w; y_l] and [y_w | m'] as two forwards (head at answer slots);
 * 'prefix' = bos+image+prompt once, the 2b answers against its cache, then [y_w | m'].
 */
export function ourPlan(
  c: VlmConfig,
  b: BatchShape,
  forward: 'rows' | 'trl' | 'prefix',
  refEveryStep: boolean,
  cacheImages: boolean,
): StepPlan {
  if (forward === 'rows') {
    const p = appPlan(c, b, true, refEveryStep);
    return cacheImages ? { ...p, images: 0 } : p;
  }
  const N = numImageTokens(c);
  const mNeg = { rows: b.pairs, T: 1 + N + maxOf(b.prompt.map((p, i) => p + b.chosen[i])) };
  let first: Chunk[];
  let images: number;
  if (forward === 'trl') {
    const T = 1 + N + maxOf([...b.prompt.map((p, i) => p + b.chosen[i]), ...b.prompt.map((p, i) => p + b.rejected[i])]);
    first = [{ rows: 2 * b.pairs, Tq: T, Tk: T }];
    images = 3 * b.pairs;
  } else {
    const T1 = 1 + N + maxOf(b.prompt);
    const Ta = maxOf([...b.chosen, ...b.rejected]);
    first = [{ rows: b.pairs, Tq: T1, Tk: T1 }, { rows: 2 * b.pairs, Tq: Ta, Tk: T1 + Ta }];
    images = 2 * b.pairs;
  }
  const chunks = [...first, { rows: mNeg.rows, Tq: mNeg.T, Tk: mNeg.T }];
  const M = sum(b.chosen) * 2 + sum(b.rejected);
  const policy: Pass = { chunks, headPositions: M, lora: true, grad: true };
  const passes = refEveryStep ? [policy, { ...policy, lora: false, grad: false }] : [policy];
  return { images: cacheImages ? 0 : images * (refEveryStep ? 2 : 1), passes };
}
