/**
 * A real Hugging Face VLM in the HF token layout, on top of the project's model (src/core/model).
 *
 * The built-in Vlm places [bos] + image + prompt; HF models instead put the image inside the
 * prompt: the processor writes N placeholder ids (config image_token_id) and the model
 * replaces their embeddings with the image features (LlavaModel/Idefics3Model's
 * inputs_embeds merge). HfVlm does that, reusing the model's weights, LoRA, vision tower,
 * connector and decoder blocks, so the HF module paths, adapters and merges stay the model's.
 *
 * Memory: with LoRA attached (base frozen) the image path runs under a zero-gradient
 * customGrad, so the vision tower's activations are never kept for backward. With
 * `recompute` on, each decoder block keeps only its input and recomputes its activations
 * during backward (activation checkpointing), trading one more forward for
 * O(layers x tokens x hidden) instead of O(layers x tokens x (hidden + heads x tokens)).
 *
 * Implements the training loop's TrainableModel (src/core/train/types.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import { Rng as RngClass } from '../rng';
import { applyRope, attentionMask, embedTokens, outputLogits, ropeTables } from '../model/decoder';
import type { Ctx } from '../model/layers';
import { activation, attend, linear, mergeHeads, rmsNorm, splitHeads } from '../model/layers';
import type { LoraConfig, LoraState } from '../model/lora';
import type { Vlm } from '../model/model';
import { namingFor } from '../model/params';
import { connector, visionFeatures } from '../model/vision';
import type { HfExtras } from './config';

export interface HfForwardOptions {
  lora?: boolean;
  dropoutRng?: Rng;
}

export interface HfBatch {
  /** [B, H, W, 3] normalised, or null: then each prompt's run of image placeholders is dropped. */
  pixels: tf.Tensor4D | null;
  /**
   * [B, imageSeqLen, D] image features from encodeImages, used instead of pixels (the training
   * loop encodes each image once per micro-batch). Not disposed here.
   */
  imageEmbeds?: tf.Tensor3D | null;
  /** Full prompt ids as the processor makes them, image placeholders included. */
  promptIds: number[][];
  /** Answer ids including the end token. */
  answerIds: number[][];
}

/** One Llama/Qwen2 decoder block, exactly the model's decoderLayers body. x: [B, T, D]. */
export function decoderBlock(ctx: Ctx, vlm: Vlm, i: number, x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor, mask: tf.Tensor): tf.Tensor {
  const t = vlm.config.text;
  const L = `${namingFor(vlm.config).text}layers.${i}.`;
  const h = rmsNorm(x, ctx.params.get(`${L}input_layernorm.weight`), t.rmsNormEps);
  const q = applyRope(splitHeads(linear(ctx, `${L}self_attn.q_proj`, h), t.numHeads), cos, sin); // [B, H, T, hd]
  const k = applyRope(splitHeads(linear(ctx, `${L}self_attn.k_proj`, h), t.numKeyValueHeads), cos, sin); // [B, KV, T, hd]
  const v = splitHeads(linear(ctx, `${L}self_attn.v_proj`, h), t.numKeyValueHeads); // [B, KV, T, hd]
  const a = mergeHeads(attend(q, k, v, mask)); // [B, T, H*hd]
  const x1 = tf.add(x, linear(ctx, `${L}self_attn.o_proj`, a));
  const h2 = rmsNorm(x1, ctx.params.get(`${L}post_attention_layernorm.weight`), t.rmsNormEps);
  const gate = activation(linear(ctx, `${L}mlp.gate_proj`, h2), 'silu'); // [B, T, I]
  const up = linear(ctx, `${L}mlp.up_proj`, h2); // [B, T, I]
  return tf.add(x1, linear(ctx, `${L}mlp.down_proj`, tf.mul(gate, up))); // [B, T, D]
}

interface EngineState {
  state: { activeTape: unknown };
}

/**
 * Gradients of `f` inside another gradient's backward pass. tfjs's engine drops its (single)
 * active tape after any top-level gradient, which would break the outer backward that is
 * still running; we keep the outer tape across the inner call.
 */
function innerGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor): tf.Tensor[] {
  const eng = tf.engine() as unknown as EngineState;
  const outer = eng.state.activeTape;
  try {
    return tf.grads(f)(xs, dy);
  } finally {
    eng.state.activeTape = outer;
  }
}

/** Identity in value, zero gradient, and nothing of `f` recorded for backward. */
function withoutGradient(f: () => tf.Tensor, anchor: tf.Tensor): tf.Tensor {
  const g = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = args[0] as tf.Tensor;
    return { value: f(), gradFunc: () => tf.zerosLike(x) };
  });
  return g(anchor);
}

export class HfVlm {
  /** Activation recomputation of decoder blocks (see the file comment). */
  recompute = false;
  /** The folder it was loaded from (merged exports copy its config and tokenizer files). */
  sourceDir: string | null = null;
  /** Parameter name -> the tensor's name in the source files, where they differ (transformers 5 spellings). */
  fileNames = new Map<string, string>();

  constructor(readonly vlm: Vlm, readonly extras: HfExtras) {}

  get config() {
    return this.vlm.config;
  }

  get lora(): LoraState | null {
    return this.vlm.lora;
  }

  get params() {
    return this.vlm.params;
  }

  addLora(config: LoraConfig, rng: Rng): LoraState {
    return this.vlm.addLora(config, rng);
  }

  mergeLora(): void {
    this.vlm.mergeLora();
  }

  removeLora(): void {
    this.vlm.removeLora();
  }

  trainableVariables(): tf.Variable[] {
    return this.vlm.trainableVariables();
  }

  nameOf(v: tf.Variable): string {
    return this.vlm.nameOf(v);
  }

  /** The frozen base weights by name, for the training loop's input fingerprint. */
  baseParameters(): Array<[string, tf.Variable]> {
    return this.vlm.baseParameters();
  }

  dispose(): void {
    this.vlm.dispose();
  }

  private ctx(opts: HfForwardOptions): Ctx {
    return this.vlm.ctx(opts);
  }

  /** pixels [B, H, W, 3] normalised -> what replaces the placeholders: [B, imageSeqLen, D]. */
  imageFeatures(ctx: Ctx, pixels: tf.Tensor): tf.Tensor {
    const c = this.config;
    let f = visionFeatures(ctx, c, pixels); // [B, Np, Dv]
    if (this.extras.dropFirstFeature) f = tf.slice(f, [0, 1, 0], [-1, -1, -1]); // LLaVA "default" on SigLIP
    let e = connector(ctx, c, f); // [B, N, D]
    if (this.extras.imageNewline) {
      const B = pixels.shape[0];
      const nl = tf.tile(tf.reshape(ctx.params.get('image_newline'), [1, 1, c.text.hiddenSize]), [B, 1, 1]); // [B, 1, D]
      e = tf.concat([e, nl], 1); // [B, N + 1, D]
    }
    return e;
  }

  /** Image features outside any gradient (adapters never touch the vision side). */
  encodeImages(pixels: tf.Tensor4D, opts: HfForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.imageFeatures(this.ctx(opts), pixels)) as tf.Tensor3D;
  }

  /** Rows of prompt + answer, image runs located (or removed when there are no pixels). */
  private layout(batch: HfBatch): { ids: number[][]; starts: number[]; lens: number[]; T: number } {
    const { promptIds, answerIds } = batch;
    const B = promptIds.length;
    const V = this.config.text.vocabSize;
    if (B === 0) throw new Error('Expected a batch of at least one example, but got 0');
    if (answerIds.length !== B) throw new Error(`Expected ${B} answers (one per prompt), but got ${answerIds.length}`);
    const embeds = batch.imageEmbeds ?? null;
    if (embeds) {
      const want = [B, this.extras.imageSeqLen, this.config.text.hiddenSize];
      if (!tf.util.arraysEqual(embeds.shape, want)) throw new Error(`Expected imageEmbeds of shape [${want}] (batch, image positions, hidden), but got [${embeds.shape}]`);
    }
    // Either form of the image counts: pixels, or their features from encodeImages.
    const pixels = batch.pixels ?? embeds;
    if (pixels && pixels.shape[0] !== B) throw new Error(`Expected ${B} images (one per prompt), but got ${pixels.shape[0]}`);
    const img = this.extras.imageTokenId;
    const N = this.extras.imageSeqLen;
    const rows: number[][] = [];
    const starts: number[] = [];
    for (let b = 0; b < B; b++) {
      const p = promptIds[b];
      const a = answerIds[b];
      if (a.length === 0) throw new Error(`Expected answerIds[${b}] to hold at least one token (the end token), but got none`);
      for (const id of [...p, ...a]) {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`Expected token ids in [0, ${V}) in example ${b}, but got ${id}`);
      }
      if (a.includes(img)) throw new Error(`Expected no image placeholder (${img}) in answerIds[${b}]`);
      const s = p.indexOf(img);
      const count = p.filter((x) => x === img).length;
      if (!pixels && count === 0) {
        // A text-only prompt (SFT without image, the no-image diagnostic).
        rows.push([...p, ...a]);
        starts.push(-1);
        continue;
      }
      if (s < 0 || count !== N || p.slice(s, s + N).some((x) => x !== img)) {
        throw new Error(`Expected promptIds[${b}] to hold exactly one run of ${N} image placeholders (id ${img}), as the processor writes them (found ${count}); one image per example, no tiling`);
      }
      if (pixels) {
        rows.push([...p, ...a]);
        starts.push(s);
      } else {
        rows.push([...p.slice(0, s), ...p.slice(s + N), ...a]);
        starts.push(-1);
      }
    }
    const lens = rows.map((r) => r.length);
    const T = Math.max(...lens);
    if (T > this.config.text.maxPositionEmbeddings) throw new Error(`Expected sequences of at most ${this.config.text.maxPositionEmbeddings} positions, but got ${T}`);
    const ids = rows.map((r) => [...r, ...Array<number>(T - r.length).fill(this.config.tokens.pad)]);
    return { ids, starts, lens, T };
  }

  /** Token embeddings with each row's placeholder run replaced by its image features: [B, T, D]. */
  private inputEmbeds(ctx: Ctx, ids: number[][], starts: number[], img: tf.Tensor | null): tf.Tensor {
    const emb = embedTokens(ctx, this.config, ids); // [B, T, D]
    if (!img) return emb;
    const N = this.extras.imageSeqLen;
    const T = ids[0].length;
    const D = this.config.text.hiddenSize;
    const rows = starts.map((s, b) => {
      const row = tf.slice(emb, [b, 0, 0], [1, T, D]); // [1, T, D]
      const parts: tf.Tensor[] = [];
      if (s > 0) parts.push(tf.slice(row, [0, 0, 0], [1, s, D]));
      parts.push(tf.slice(img, [b, 0, 0], [1, N, D])); // [1, N, D]
      if (s + N < T) parts.push(tf.slice(row, [0, s + N, 0], [1, T - s - N, D]));
      return parts.length === 1 ? parts[0] : tf.concat(parts, 1); // [1, T, D]
    });
    return rows.length === 1 ? rows[0] : tf.concat(rows, 0); // [B, T, D]
  }

  /** The decoder over embeddings, with or without recomputation. Returns hidden [B, T, D] before the final norm. */
  private decode(ctx: Ctx, x: tf.Tensor, lens: number[]): tf.Tensor {
    const B = x.shape[0];
    const T = x.shape[1] as number;
    const c = this.config.text;
    const positions = Array.from({ length: B }, () => Array.from({ length: T }, (_, t) => t));
    const valid = lens.map((n) => Array.from({ length: T }, (_, t) => t < n));
    const hd = c.hiddenSize / c.numHeads;
    if (!this.recompute) {
      const mask = attentionMask(valid, T);
      const { cos, sin } = ropeTables(positions, hd, c.ropeTheta);
      for (let i = 0; i < c.numLayers; i++) x = decoderBlock(ctx, this.vlm, i, x, cos, sin, mask);
      return x;
    }
    for (let i = 0; i < c.numLayers; i++) x = this.checkpointedBlock(ctx, i, x, positions, valid);
    return x;
  }

  /** The variables block i reads that receive gradients (adapters, or all weights without LoRA). */
  private blockVariables(ctx: Ctx, i: number): tf.Variable[] {
    const L = `${namingFor(this.config).text}layers.${i}.`;
    const vars: tf.Variable[] = [];
    if (ctx.lora) {
      for (const [path, ad] of ctx.lora.adapters) if (path.startsWith(L)) vars.push(ad.a, ad.b);
    }
    for (const [name, v] of this.params.entries()) if (name.startsWith(L) && v.trainable) vars.push(v);
    return vars;
  }

  /**
   * Block i under tf.customGrad: the forward records nothing (tfjs does not tape inside a
   * kernel); the backward recomputes the block from its saved input (and the same dropout
   * stream) and differentiates it w.r.t. the input and the block's trainable variables.
   */
  private checkpointedBlock(ctx: Ctx, i: number, x: tf.Tensor, positions: number[][], valid: boolean[][]): tf.Tensor {
    const vars = this.blockVariables(ctx, i);
    const hd = this.config.text.hiddenSize / this.config.text.numHeads;
    const rngState = ctx.dropoutRng ? ctx.dropoutRng.fork(`block${i}`).state() : null;
    const run = (input: tf.Tensor): tf.Tensor => {
      const mask = attentionMask(valid, input.shape[1] as number);
      const { cos, sin } = ropeTables(positions, hd, this.config.text.ropeTheta);
      const local: Ctx = { ...ctx, dropoutRng: rngState ? new RngClass(rngState) : undefined };
      return decoderBlock(local, this.vlm, i, input, cos, sin, mask);
    };
    const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const input = args[0] as tf.Tensor;
      const save = args[args.length - 1] as tf.GradSaveFunc;
      save([input]);
      return {
        value: run(input),
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
          innerGrads((xin: tf.Tensor) => run(xin), [saved[0], ...vars], dy as tf.Tensor),
      };
    });
    return f(x, ...vars);
  }

  /** Hidden states [B, T, D] (before the final norm) for a batch, plus its layout. */
  private forward(ctx: Ctx, batch: HfBatch): { hidden: tf.Tensor; ids: number[][]; starts: number[]; lens: number[]; T: number } {
    const lay = this.layout(batch);
    let img: tf.Tensor | null = batch.imageEmbeds ?? null; // [B, N, D], constants of the step
    if (!img && batch.pixels) {
      const pixels = batch.pixels;
      // Frozen vision side (LoRA attached): no gradient, nothing kept for backward.
      img = this.lora ? withoutGradient(() => this.imageFeatures(ctx, pixels), pixels) : this.imageFeatures(ctx, pixels);
    }
    const x = this.inputEmbeds(ctx, lay.ids, lay.starts, img);
    return { hidden: this.decode(ctx, x, lay.lens), ...lay };
  }

  /** [B] summed answer log-probs (end token included), as the training loop wants them. */
  sequenceLogProbs(batch: HfBatch, opts: HfForwardOptions = {}): tf.Tensor1D {
    return tf.tidy(() => {
      const ctx = this.ctx(opts);
      const { hidden, lens, T } = this.forward(ctx, batch);
      const B = lens.length;
      const D = this.config.text.hiddenSize;
      const V = this.config.text.vocabSize;
      const index: number[] = [];
      const targets: number[] = [];
      const member: number[] = [];
      batch.answerIds.forEach((a, b) => {
        const start = lens[b] - a.length; // slot of the first answer token
        a.forEach((tok, j) => {
          index.push(b * T + start + j - 1); // predicted by the slot before it
          targets.push(tok);
          member.push(b);
        });
      });
      const M = index.length;
      const sel = tf.gather(tf.reshape(hidden, [B * T, D]), tf.tensor1d(index, 'int32')); // [M, D]
      const logp = tf.logSoftmax(outputLogits(ctx, this.config, sel), -1); // [M, V]
      const tok = tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), V)), -1); // [M]
      const rows = new Float32Array(B * M);
      member.forEach((b, m) => (rows[b * M + m] = 1));
      return tf.reshape(tf.matMul(tf.tensor2d(rows, [B, M]), tf.reshape(tok, [M, 1])), [B]) as tf.Tensor1D; // [B]
    });
  }

  /** Full logits [B, T, V] over prompt + answer (HF's `logits`), for checks and golden comparisons. */
  logits(batch: HfBatch, opts: HfForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const ctx = this.ctx(opts);
      const { hidden } = this.forward(ctx, batch);
      return outputLogits(ctx, this.config, hidden) as tf.Tensor3D;
    });
  }

  numParameters(): number {
    return this.vlm.numParameters();
  }
}
