/**
 * The VLM: vision tower -> connector -> decoder, with LoRA, and the log-prob API the trainer uses.
 *
 * logp(y | m, q) (docs/objective.md) = SUM of log-probs of the answer tokens, end token included; prompt,
 * image and padding slots never count, and the output head runs only at the answer slots.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import type { VlmConfig } from './config';
import { numImageTokens, validateConfig } from './config';
import type { KvCache } from './decoder';
import { decoderLayers, embedTokens, outputLogits } from './decoder';
import type { Ctx } from './layers';
import { checkIds, fullLayout, prefixLayout } from './layout';
import type { LoraConfig } from './lora';
import { LoraState } from './lora';
import type { ParamStore } from './params';
import { initParams } from './params';
import { connector, visionFeatures } from './vision';

export interface ForwardOptions {
  /** Adapters on (the policy, default) or off (the reference model). */
  lora?: boolean;
  /** Draws LoRA dropout masks; leave out for no dropout. */
  dropoutRng?: Rng;
}

export interface LogProbBatch {
  /** [B, H, W, 3] normalised pixels, or null for no image (the dpo-no-image diagnostic). */
  pixels: tf.Tensor4D | null;
  /** Already encoded images [B, N, Dtext] (from encodeImages); used instead of pixels. */
  imageEmbeds?: tf.Tensor3D | null;
  promptIds: number[][];
  /** Answer tokens INCLUDING the end token. */
  answerIds: number[][];
}

export interface PairBatch {
  pixels: tf.Tensor4D | null;
  imageEmbeds?: tf.Tensor3D | null;
  promptIds: number[][];
  chosenIds: number[][];
  rejectedIds: number[][];
}

export class Vlm {
  lora: LoraState | null = null;
  /** Base weights kept fixed in full fine-tuning (see freezeBase). */
  private readonly frozen = new Set<string>();

  constructor(readonly config: VlmConfig, readonly params: ParamStore) {
    validateConfig(config);
  }

  /** Fresh random weights (HF-style normal(0, 0.02)) from the seeded generator. */
  static create(config: VlmConfig, rng: Rng): Vlm {
    return new Vlm(validateConfig(config), initParams(config, rng));
  }

  /** Image positions per example after the connector. */
  get numImageTokens(): number {
    return numImageTokens(this.config);
  }

  ctx(opts: ForwardOptions = {}): Ctx {
    const on = opts.lora ?? true;
    return { params: this.params, lora: on ? this.lora : null, dropoutRng: opts.dropoutRng };
  }

  /** pixels [B, H, W, 3] (normalised) -> image embeddings [B, N, Dtext]. Adapters never touch it. */
  encodeImages(pixels: tf.Tensor4D, opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => connector(this.ctx(opts), this.config, visionFeatures(this.ctx(opts), this.config, pixels))) as tf.Tensor3D;
  }

  /** The image part of a batch: [B, N, Dtext], or null when there is no image. */
  private imagePart(ctx: Ctx, pixels: tf.Tensor4D | null, embeds: tf.Tensor3D | null | undefined, B: number): tf.Tensor | null {
    let img: tf.Tensor | null = null;
    if (embeds) img = embeds;
    else if (pixels) img = connector(ctx, this.config, visionFeatures(ctx, this.config, pixels));
    if (img && (img.shape[0] !== B || img.shape[1] !== this.numImageTokens || img.shape[2] !== this.config.text.hiddenSize)) {
      throw new Error(`Expected image embeddings of shape [${B}, ${this.numImageTokens}, ${this.config.text.hiddenSize}], but got [${img.shape}]`);
    }
    return img;
  }

  /** [bos] + image + text ids -> embeddings [B, 1 + N + T, D]. */
  private assemble(ctx: Ctx, img: tf.Tensor | null, textIds: number[][]): tf.Tensor {
    const parts = [embedTokens(ctx, this.config, textIds.map(() => [this.config.tokens.bos]))]; // [B, 1, D]
    if (img) parts.push(img); // [B, N, D]
    if (textIds[0].length > 0) parts.push(embedTokens(ctx, this.config, textIds)); // [B, Lt, D]
    return parts.length === 1 ? parts[0] : tf.concat(parts, 1); // [B, 1 + N + Lt, D]
  }

  private checkBatch(pixels: tf.Tensor4D | null, embeds: tf.Tensor3D | null | undefined, promptIds: number[][], answerSets: number[][][]): number {
    const V = this.config.text.vocabSize;
    checkIds('promptIds', promptIds, V, true);
    const B = promptIds.length;
    if (B === 0) throw new Error('Expected a batch of at least one example, but got 0');
    for (const [i, set] of answerSets.entries()) {
      checkIds(answerSets.length === 1 ? 'answerIds' : `answers[${i}]`, set, V, false);
      if (set.length !== B) throw new Error(`Expected ${B} answers (one per prompt), but got ${set.length}`);
    }
    const n = embeds ? embeds.shape[0] : pixels ? pixels.shape[0] : B;
    if (n !== B) throw new Error(`Expected ${B} images (one per prompt), but got ${n}`);
    return B;
  }

  /**
   * Summed answer log-probs per example, differentiable w.r.t. the trainable variables.
   * Returns [B]. Call inside tf.variableGrads / tf.tidy as usual; intermediates are freed.
   */
  sequenceLogProbs(batch: LogProbBatch, opts: ForwardOptions = {}): tf.Tensor1D {
    const B = this.checkBatch(batch.pixels, batch.imageEmbeds, batch.promptIds, [batch.answerIds]);
    return tf.tidy(() => {
      const { ctx, flat, lay } = this.fullForward(batch, opts, B);
      return this.gatheredLogProbs(ctx, flat, lay.gatherIndex, lay.targets, lay.rowOf, B);
    });
  }

  /**
   * Per-token answer log-probs as plain numbers ([B][answer length]), for inspection; no
   * gradient. Async: read back with `await data()` (GPU backends have no sync readback).
   */
  async tokenLogProbs(batch: LogProbBatch, opts: ForwardOptions = {}): Promise<number[][]> {
    const B = this.checkBatch(batch.pixels, batch.imageEmbeds, batch.promptIds, [batch.answerIds]);
    const tok = tf.tidy(() => {
      const { ctx, flat, lay } = this.fullForward(batch, opts, B);
      return this.tokenValues(ctx, flat, lay.gatherIndex, lay.targets);
    });
    const values = await tok.data();
    tok.dispose();
    let m = 0;
    return batch.answerIds.map((a) => Array.from(values.subarray(m, (m += a.length))));
  }

  /** One forward over [bos] + image + prompt + answer; hidden states flattened to [B*T, D]. */
  private fullForward(batch: LogProbBatch, opts: ForwardOptions, B: number) {
    const ctx = this.ctx(opts);
    const img = this.imagePart(ctx, batch.pixels, batch.imageEmbeds, B);
    const lay = fullLayout(this.config, img ? this.numImageTokens : 0, batch.promptIds, batch.answerIds);
    const x = this.assemble(ctx, img, lay.textIds); // [B, T, D]
    const { hidden } = decoderLayers(ctx, this.config, x, lay.positions, lay.valid, null, false);
    const flat = tf.reshape(hidden, [B * lay.T, this.config.text.hiddenSize]); // [B*T, D]
    return { ctx, flat, lay };
  }

  /**
   * Shared prefix: [bos] + image + prompt is computed once, then each answer set is scored
   * against its key/value cache. Returns one [B] tensor per answer set, equal (to float
   * rounding) to sequenceLogProbs on each set.
   */
  prefixLogProbs(
    batch: { pixels: tf.Tensor4D | null; imageEmbeds?: tf.Tensor3D | null; promptIds: number[][]; answers: number[][][] },
    opts: ForwardOptions = {},
  ): tf.Tensor1D[] {
    const { pixels, imageEmbeds, promptIds, answers } = batch;
    if (!Array.isArray(answers) || answers.length === 0) throw new Error('Expected at least one set of answers, but got none');
    const B = this.checkBatch(pixels, imageEmbeds, promptIds, answers);
    const K = answers.length;
    return tf.tidy(() => {
      const ctx = this.ctx(opts);
      const D = this.config.text.hiddenSize;
      const img = this.imagePart(ctx, pixels, imageEmbeds, B);
      const lay = prefixLayout(this.config, img ? this.numImageTokens : 0, promptIds, answers);
      const x = this.assemble(ctx, img, lay.promptPadded); // [B, T1, D]
      const pre = decoderLayers(ctx, this.config, x, lay.prefixPositions, lay.prefixValid, null, true);
      const cache = pre.cache as KvCache;
      // The same prefix cache for every answer set: [K*B, KV, T1, hd].
      const tiled: KvCache = {
        layers: cache.layers.map((l) => ({ k: tf.concat(Array(K).fill(l.k), 0), v: tf.concat(Array(K).fill(l.v), 0) })),
        keyValid: Array.from({ length: K }, () => cache.keyValid).flat(),
      };
      const ans = embedTokens(ctx, this.config, lay.answerPadded); // [K*B, Ta, D]
      const cont = decoderLayers(ctx, this.config, ans, lay.answerPositions, lay.answerValid, tiled, false);
      const flat = tf.concat([tf.reshape(pre.hidden, [B * lay.T1, D]), tf.reshape(cont.hidden, [K * B * lay.Ta, D])], 0);
      const all = this.gatheredLogProbs(ctx, flat, lay.gatherIndex, lay.targets, lay.rowOf, K * B); // [K*B]
      return tf.split(all, K, 0) as tf.Tensor1D[];
    });
  }

  /** chosen and rejected answers for the same image + prompt, prefix computed once. */
  pairLogProbs(batch: PairBatch, opts: ForwardOptions = {}): { chosen: tf.Tensor1D; rejected: tf.Tensor1D } {
    const [chosen, rejected] = this.prefixLogProbs(
      { pixels: batch.pixels, imageEmbeds: batch.imageEmbeds, promptIds: batch.promptIds, answers: [batch.chosenIds, batch.rejectedIds] },
      opts,
    );
    return { chosen, rejected };
  }

  /**
   * Output head only at the gathered slots, token log-probs by a one-hot product (GatherNd has
   * no gradient), summed per row by a [rows, M] membership matmul. flat: [S, D] -> [rows].
   */
  private gatheredLogProbs(ctx: Ctx, flat: tf.Tensor, index: number[], targets: number[], rowOf: number[], rows: number): tf.Tensor1D {
    const M = index.length;
    const tok = this.tokenValues(ctx, flat, index, targets); // [M]
    const member = new Float32Array(rows * M);
    rowOf.forEach((r, m) => (member[r * M + m] = 1));
    return tf.reshape(tf.matMul(tf.tensor2d(member, [rows, M]), tf.reshape(tok, [M, 1])), [rows]) as tf.Tensor1D; // [rows]
  }

  /** log p(target) at each gathered slot: flat [S, D] -> [M]. */
  private tokenValues(ctx: Ctx, flat: tf.Tensor, index: number[], targets: number[]): tf.Tensor {
    const sel = tf.gather(flat, tf.tensor1d(index, 'int32')); // [M, D]
    const logp = tf.logSoftmax(outputLogits(ctx, this.config, sel), -1); // [M, V]
    return tf.sum(tf.mul(logp, tf.oneHot(tf.tensor1d(targets, 'int32'), this.config.text.vocabSize)), -1); // [M]
  }

  /** Supervised fine-tuning loss: mean NLL per answer token over the batch (a scalar). */
  sftLoss(batch: LogProbBatch, opts: ForwardOptions = {}): tf.Scalar {
    const tokens = batch.answerIds.reduce((s, a) => s + a.length, 0);
    return tf.tidy(() => tf.div(tf.neg(tf.sum(this.sequenceLogProbs(batch, opts))), Math.max(tokens, 1)) as tf.Scalar);
  }

  /** Attaches fresh adapters (B = 0) and freezes the base weights. */
  addLora(config: LoraConfig, rng: Rng): LoraState {
    if (this.lora) throw new Error('This model already has LoRA adapters; merge or remove them first');
    return this.attachLora(LoraState.create(this.config, this.params, config, rng));
  }

  /** Attaches existing adapters (e.g. loaded from disk) and freezes the base weights. */
  attachLora(state: LoraState): LoraState {
    if (this.lora) throw new Error('This model already has LoRA adapters; merge or remove them first');
    this.lora = state;
    for (const [, v] of this.params.entries()) v.trainable = false;
    return state;
  }

  /** Drops the adapters (they are disposed) and makes the base trainable again. */
  removeLora(): void {
    this.lora?.dispose();
    this.lora = null;
    for (const [name, v] of this.params.entries()) v.trainable = !this.frozen.has(name);
  }

  /** W += (alpha/r) B A into the base weights, then removes the adapters. */
  mergeLora(): void {
    if (!this.lora) throw new Error('This model has no LoRA adapters to merge');
    this.lora.mergeInto(this.params);
    this.removeLora();
  }

  /**
   * Full fine-tuning of part of the model: base weights whose checkpoint name starts with one
   * of `prefixes` stop training (e.g. the world base's SFT keeps its warmed-up vision tower).
   * Returns how many weights were frozen; adapters, when attached, are unaffected.
   */
  freezeBase(prefixes: readonly string[]): number {
    let n = 0;
    for (const [name, v] of this.params.entries()) {
      if (!prefixes.some((p) => name.startsWith(p))) continue;
      this.frozen.add(name);
      v.trainable = false;
      n++;
    }
    return n;
  }

  /** LoRA A/B when adapters are attached, else every parameter not frozen (full fine-tuning). */
  trainableVariables(): tf.Variable[] {
    return [...this.trainableParameters().values()];
  }

  /** Trainable variables by their checkpoint name (HF key, or `<module>.lora_A.weight`). */
  trainableParameters(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    if (this.lora) for (const v of this.lora.variables()) m.set(this.lora.keyOf(v), v);
    else for (const [name, v] of this.params.entries()) if (!this.frozen.has(name)) m.set(name, v);
    return m;
  }

  /** The checkpoint name of any variable of this model (tfjs names carry a per-model prefix). */
  nameOf(v: tf.Variable): string {
    if (this.lora && v.name.startsWith(`${this.lora.id}/`)) return this.lora.keyOf(v);
    return this.params.hfName(v);
  }

  /** The base weights by checkpoint name (the reference model: adapters never change them). */
  baseParameters(): Array<[string, tf.Variable]> {
    return this.params.entries();
  }

  numParameters(): number {
    return this.params.entries().reduce((s, [, v]) => s + v.size, 0);
  }

  dispose(): void {
    this.removeLora();
    this.params.dispose();
  }
}
