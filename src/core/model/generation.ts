/**
 * Greedy and sampled decoding (temperature, top-p, max tokens, stop at the end token), batched,
 * with a key/value cache: the prefix ([bos] + image + prompt) runs once, then every new token is
 * one single-slot forward against the cache, so n tokens cost n small forwards, not n full ones.
 *
 * Batch layout: [bos][image][pads][prompt]: prompts are LEFT-padded inside the text part so that
 * every row's next token lands in the same slot; pads are masked as keys and skipped by the RoPE
 * positions, so a padded row computes what the unpadded row would.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import type { KvCache } from './decoder';
import { decoderLayers, disposeCache, embedTokens, outputLogits } from './decoder';
import { checkIds } from './layout';
import type { Vlm } from './model';

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 (default) = greedy; otherwise logits are divided by it before sampling. */
  temperature?: number;
  /** Nucleus sampling: keep the smallest set of tokens whose probability reaches topP (default 1). */
  topP?: number;
  /** Required for sampling (temperature > 0): the project's seeded generator. */
  rng?: Rng;
  /** Stop token (default: the config's eos). */
  eos?: number;
  /** Adapters on (default) or off. */
  lora?: boolean;
  /** false recomputes the whole sequence every step (slow; the test reference). */
  useCache?: boolean;
  /** Also return the logits used at each step (for tests and inspection). */
  returnLogits?: boolean;
}

export interface GenerateResult {
  /** Generated ids per row, WITHOUT the end token. */
  tokens: number[][];
  /** Whether the row ended with the end token (false: hit maxNewTokens). */
  finished: boolean[];
  /** [row][step] -> logits (only with returnLogits). */
  logits?: Float32Array[][];
  /** Decoder slots computed per row: prefix + one per new token with the cache, O(n^2) without. */
  slotsComputed: number;
}

export interface GenerateInput {
  /** [B, H, W, 3] normalised, or null for text only. */
  pixels: tf.Tensor4D | null;
  /** Already encoded images [B, N, Dtext] (Vlm.encodeImages), used instead of pixels; not disposed. */
  imageEmbeds?: tf.Tensor3D | null;
  promptIds: number[][];
}

/** Picks the next token from one row of logits (greedy or temperature + top-p sampling). */
export function pickToken(logits: Float32Array, temperature: number, topP: number, rng: Rng | undefined): number {
  if (temperature <= 0) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  if (!rng) throw new Error('Expected an Rng for sampling (temperature > 0), but got none');
  let max = -Infinity;
  for (const l of logits) max = Math.max(max, l);
  const p = Array.from(logits, (l, i) => ({ i, p: Math.exp((l - max) / temperature) }));
  const total = p.reduce((s, x) => s + x.p, 0);
  p.sort((a, b) => b.p - a.p || a.i - b.i);
  let kept = p.length;
  if (topP < 1) {
    let cum = 0;
    for (let k = 0; k < p.length; k++) {
      cum += p[k].p / total;
      if (cum >= topP) {
        kept = k + 1;
        break;
      }
    }
  }
  const mass = p.slice(0, kept).reduce((s, x) => s + x.p, 0);
  let u = rng.next() * mass;
  for (let k = 0; k < kept; k++) {
    u -= p[k].p;
    if (u < 0) return p[k].i;
  }
  return p[kept - 1].i;
}

/**
 * Runs decoding; all tensors it makes are freed before it returns. Async because each step
 * reads the next-token logits back with `await array()`: GPU backends in Node have no
 * synchronous readback.
 */
export async function generate(model: Vlm, input: GenerateInput, opts: GenerateOptions): Promise<GenerateResult> {
  const c = model.config;
  const { promptIds, pixels, imageEmbeds } = input;
  checkIds('promptIds', promptIds, c.text.vocabSize, true);
  const B = promptIds.length;
  if (B === 0) throw new Error('Expected at least one prompt, but got 0');
  const given = imageEmbeds ?? pixels;
  if (given && given.shape[0] !== B) throw new Error(`Expected ${B} images (one per prompt), but got ${given.shape[0]}`);
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) {
    throw new Error(`Expected maxNewTokens to be a non-negative integer, but got ${opts.maxNewTokens}`);
  }
  const temperature = opts.temperature ?? 0;
  const topP = opts.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new Error(`Expected topP in (0, 1], but got ${topP}`);
  if (temperature > 0 && !opts.rng) throw new Error('Expected an Rng for sampling (temperature > 0), but got none');
  const eos = opts.eos ?? c.tokens.eos;
  const longest = 1 + (given ? model.numImageTokens : 0) + Math.max(...promptIds.map((p) => p.length)) + opts.maxNewTokens;
  if (longest > c.text.maxPositionEmbeddings) {
    throw new Error(`Expected prompt + image + maxNewTokens to fit in ${c.text.maxPositionEmbeddings} positions, but got ${longest}`);
  }
  const ctx = model.ctx({ lora: opts.lora ?? true });
  const N = given ? model.numImageTokens : 0;
  const D = c.text.hiddenSize;

  const img = imageEmbeds ?? (pixels ? model.encodeImages(pixels, { lora: opts.lora ?? true }) : null); // [B, N, D]
  const tokens: number[][] = promptIds.map(() => []);
  const finished = promptIds.map(() => false);
  const logitsOut: Float32Array[][] | undefined = opts.returnLogits ? promptIds.map(() => []) : undefined;
  let cache: KvCache | null = null;
  let slotsComputed = 0;

  /** Full sequence so far, left-padded text: embeddings [B, T, D], validity, positions, last real slot. */
  const fullInputs = () => {
    const texts = promptIds.map((p, b) => [...p, ...tokens[b]]);
    const Lt = Math.max(...texts.map((t) => t.length));
    const padded = texts.map((t) => [...Array<number>(Lt - t.length).fill(c.tokens.pad), ...t]);
    const T = 1 + N + Lt;
    const valid = texts.map((t) => Array.from({ length: T }, (_, s) => s <= N || s >= T - t.length));
    const positions = valid.map((row) => {
      let p = -1;
      return row.map((v) => (v ? ++p : Math.max(p, 0)));
    });
    const last = texts.map((t) => (t.length > 0 ? T - 1 : N));
    const x = tf.tidy(() => {
      const parts = [embedTokens(ctx, c, promptIds.map(() => [c.tokens.bos]))];
      if (img) parts.push(img);
      if (Lt > 0) parts.push(embedTokens(ctx, c, padded));
      return tf.concat(parts, 1); // [B, T, D]
    });
    return { x, valid, positions, last, T };
  };

  /** Logits [B, V] from hidden [B, T, D] at each row's slot. */
  const logitsAt = (hidden: tf.Tensor, slots: number[]): tf.Tensor =>
    outputLogits(ctx, c, tf.gather(tf.reshape(hidden, [-1, D]), slots.map((s, b) => b * (hidden.shape[1] as number) + s)));

  const useCache = opts.useCache ?? true;
  let pending: tf.Tensor | null = null; // logits [B, V] for the next pick
  let nextPos: number[] = [];
  try {
    for (let step = 0; step < opts.maxNewTokens && !finished.every(Boolean); step++) {
      if (!useCache || step === 0) {
        const f = fullInputs();
        slotsComputed += f.T;
        const out: { logits: tf.Tensor; ks: tf.Tensor[]; vs: tf.Tensor[] } = tf.tidy(() => {
          const r = decoderLayers(ctx, c, f.x, f.positions, f.valid, null, useCache);
          return { logits: logitsAt(r.hidden, f.last), ks: r.cache?.layers.map((l) => l.k) ?? [], vs: r.cache?.layers.map((l) => l.v) ?? [] };
        });
        f.x.dispose();
        pending = out.logits;
        if (useCache) cache = { layers: out.ks.map((k, i) => ({ k, v: out.vs[i] })), keyValid: f.valid };
        nextPos = f.positions.map((row, b) => row[f.last[b]] + 1);
      }
      const rows = (await (pending as tf.Tensor).array()) as number[][];
      (pending as tf.Tensor).dispose();
      pending = null;
      const chosen = rows.map((r, b) => {
        const l = Float32Array.from(r);
        if (!finished[b]) logitsOut?.[b].push(l);
        return pickToken(l, temperature, topP, opts.rng);
      });
      chosen.forEach((tok, b) => {
        if (finished[b]) return;
        if (tok === eos) finished[b] = true;
        else tokens[b].push(tok);
      });
      if (!useCache || finished.every(Boolean) || step + 1 >= opts.maxNewTokens) continue;
      // One new slot per row against the cache.
      const past: KvCache = cache as KvCache;
      slotsComputed += 1;
      const pos = nextPos.map((p) => [p]);
      const out: { logits: tf.Tensor; ks: tf.Tensor[]; vs: tf.Tensor[] } = tf.tidy(() => {
        const x = embedTokens(ctx, c, chosen.map((t) => [t])); // [B, 1, D]
        const r = decoderLayers(ctx, c, x, pos, chosen.map(() => [true]), past, true);
        return { logits: logitsAt(r.hidden, chosen.map(() => 0)), ks: r.cache!.layers.map((l) => l.k), vs: r.cache!.layers.map((l) => l.v) };
      });
      const keyValid = past.keyValid.map((row) => [...row, true]);
      disposeCache(past);
      cache = { layers: out.ks.map((k, i) => ({ k, v: out.vs[i] })), keyValid };
      pending = out.logits;
      nextPos = nextPos.map((p) => p + 1);
    }
  } finally {
    (pending as tf.Tensor | null)?.dispose();
    disposeCache(cache);
    if (img !== imageEmbeds) img?.dispose();
  }
  return { tokens, finished, slotsComputed, ...(logitsOut ? { logits: logitsOut } : {}) };
}
