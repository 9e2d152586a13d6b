/**
 * The preference objective as a loop task: for a micro-batch of pairs, the reference
 * log-probs (cached, adapters off, no gradient), one policy forward over
 * [y_w | m ; y_l | m ; y_w | m'] (TRL's concatenated forward, plus the m' rows), and the loss
 * of objective/loss.ts. The SAME m' array feeds the policy and the reference rows.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LogpValues } from '../objective/loss';
import { preferenceLoss, preferenceValues } from '../objective/loss';
import { needsImageless } from '../objective/variants';
import { Rng } from '../rng';
import type { LoopConfig } from './config';
import { pixelBatch, tokenCount } from './pixels';
import { type InputFingerprints, preferenceInputs, referenceScope } from './fingerprint';
import type { RefKind, SavedRefCache } from './ref-cache';
import { RefCache } from './ref-cache';
import type { MicroBatch, Task } from './task';
import type { PreferenceExample, PreferenceSource, TrainableModel } from './types';

/** One sequence to score: which image of the micro-batch's bank, which prompt, which answer. */
interface Row {
  image: number;
  promptIds: number[];
  answerIds: number[];
}

/** The distinct images of a micro-batch (m then m'), and their embeddings when precomputed. */
interface ImageBank {
  images: Float32Array[];
  /** [images, N, D], or null when the model only takes pixels. */
  embeds: tf.Tensor3D | null;
}

type Records = Required<{ [K in keyof LogpValues]: number[] }>;

function emptyRecords(): Records {
  return { policyChosen: [], policyRejected: [], refChosen: [], refRejected: [], policyImageless: [], refImageless: [] };
}

export class PreferenceTask implements Task {
  readonly kind = 'preference' as const;
  /** Replaced by prepare() with one scoped to the run's input fingerprints. */
  cache = new RefCache('');
  private records: Records = emptyRecords();
  private stepPairs = 0;

  constructor(
    private readonly model: TrainableModel,
    private readonly source: PreferenceSource,
    private readonly config: LoopConfig,
  ) {}

  get size(): number {
    return this.source.size;
  }

  /** Whether the reference log-prob of `kind` is a constant of the pair (and so cached). */
  private cacheable(kind: RefKind): boolean {
    return kind !== 'imageless' || this.config.negativeFixedPerPair;
  }

  /** m' of pair i: from a generator derived from (seed, pair id[, epoch]) alone. */
  negative(i: number, ex: PreferenceExample, epoch: number): Float32Array {
    const fixed = this.config.negativeFixedPerPair;
    const rng = Rng.derive(this.config.seed, fixed ? `negative/${ex.id}` : `negative/${ex.id}/${epoch}`);
    return this.source.negative(i, fixed ? 0 : epoch, rng);
  }

  /**
   * The image input of `rows`: [rows, N, D] embeddings when the model can encode images
   * separately (the vision tower and connector are frozen under LoRA, so m's embeddings are
   * computed once per micro-batch and shared by the y_w, y_l, reference and policy rows), else
   * [rows, H, W, 3] pixels. Built outside the gradient; the caller disposes it.
   */
  private imageInput(rows: Row[], bank: ImageBank): { pixels: tf.Tensor4D | null; imageEmbeds: tf.Tensor3D | null } {
    if (!this.config.objective.useImage) return { pixels: null, imageEmbeds: null };
    if (bank.embeds) {
      const embeds = bank.embeds;
      return { pixels: null, imageEmbeds: tf.tidy(() => tf.gather(embeds, tf.tensor1d(rows.map((r) => r.image), 'int32')) as tf.Tensor3D) };
    }
    return { pixels: pixelBatch(this.model, rows.map((r) => bank.images[r.image]), this.source.imageShape), imageEmbeds: null };
  }

  /** [rows] summed answer log-probs, adapters on (policy) or off (reference). */
  private score(rows: Row[], input: { pixels: tf.Tensor4D | null; imageEmbeds: tf.Tensor3D | null }, lora: boolean): tf.Tensor1D {
    return this.model.sequenceLogProbs(
      { ...input, promptIds: rows.map((r) => r.promptIds), answerIds: rows.map((r) => r.answerIds) },
      { lora },
    );
  }

  /** Reference log-probs for each (row, kind): from the cache, the misses in one forward. */
  async referenceLogps(rows: Row[], ids: string[], kinds: RefKind[], bank: ImageBank): Promise<number[]> {
    const out = new Array<number>(rows.length);
    const missing: number[] = [];
    rows.forEach((_, r) => {
      const hit = this.cacheable(kinds[r]) ? this.cache.get(ids[r], kinds[r]) : undefined;
      if (hit === undefined) missing.push(r);
      else out[r] = hit;
    });
    if (missing.length > 0) {
      const missed = missing.map((r) => rows[r]);
      const input = this.imageInput(missed, bank);
      try {
        const scored = tf.tidy(() => this.score(missed, input, false));
        const values = await scored.data();
        scored.dispose();
        missing.forEach((r, k) => {
          out[r] = values[k];
          if (this.cacheable(kinds[r])) this.cache.set(ids[r], kinds[r], values[k]);
        });
      } finally {
        tf.dispose([input.pixels, input.imageEmbeds].filter((t) => t !== null));
      }
    }
    return out;
  }

  beginStep(indices: number[]): void {
    this.records = emptyRecords();
    this.stepPairs = indices.length;
  }

  async microBatch(indices: number[], epoch: number): Promise<MicroBatch> {
    const objective = this.config.objective;
    const withImageless = needsImageless(objective);
    const examples = indices.map((i) => this.source.example(i));
    const b = examples.length;
    const mNeg = withImageless ? indices.map((i, k) => this.negative(i, examples[k], epoch)) : [];
    // Bank: m of each pair (0..b-1), then m' (b..2b-1). The SAME m' array feeds policy and reference.
    const images = [...examples.map((e) => e.image), ...mNeg];
    const bank: ImageBank = { images, embeds: null };
    if (objective.useImage && this.model.encodeImages) {
      const encode = this.model.encodeImages.bind(this.model);
      bank.embeds = tf.tidy(() => encode(pixelBatch(this.model, images, this.source.imageShape))); // [b or 2b, N, D]
    }
    // Rows: [y_w | m] * b, [y_l | m] * b, then [y_w | m'] * b when the loss needs m'.
    const rows: Row[] = [
      ...examples.map((e, k) => ({ image: k, promptIds: e.promptIds, answerIds: e.chosenIds })),
      ...examples.map((e, k) => ({ image: k, promptIds: e.promptIds, answerIds: e.rejectedIds })),
      ...examples.map((e, k) => ({ image: b + k, promptIds: e.promptIds, answerIds: e.chosenIds })).slice(0, withImageless ? b : 0),
    ];
    const kinds: RefKind[] = rows.map((_, r) => (['chosen', 'rejected', 'imageless'] as const)[Math.floor(r / b)]);
    const ids = rows.map((_, r) => examples[r % b].id);
    let policyInput: ReturnType<PreferenceTask['imageInput']>;
    let ref: number[];
    try {
      ref = await this.referenceLogps(rows, ids, kinds, bank);
      policyInput = this.imageInput(rows, bank);
    } finally {
      bank.embeds?.dispose();
    }
    const refT = (part: number) => tf.tensor1d(ref.slice(part * b, (part + 1) * b)); // [b]

    let kept: tf.Tensor1D | null = null;
    const share = b / this.stepPairs;
    return {
      tokens: rows.reduce((s, r) => s + tokenCount(r.promptIds, r.answerIds), 0),
      loss: () => {
        const policy = this.score(rows, policyInput, true); // [R*b], R = 2 or 3
        kept?.dispose(); // a second call (finite differences) replaces the first
        kept = tf.keep(policy);
        const part = (k: number) => tf.slice(policy, k * b, b) as tf.Tensor1D; // [b]
        const { loss } = preferenceLoss(
          {
            policyChosen: part(0),
            policyRejected: part(1),
            refChosen: refT(0),
            refRejected: refT(1),
            ...(withImageless ? { policyImageless: part(2), refImageless: refT(2) } : {}),
          },
          objective,
        );
        return tf.mul(loss, share) as tf.Scalar; // mean over the micro-batch -> share of the step mean
      },
      finish: async () => {
        const p = await kept!.data();
        const rec = this.records;
        for (let k = 0; k < b; k++) {
          rec.policyChosen.push(p[k]);
          rec.policyRejected.push(p[b + k]);
          rec.refChosen.push(ref[k]);
          rec.refRejected.push(ref[b + k]);
          if (withImageless) {
            rec.policyImageless.push(p[2 * b + k]);
            rec.refImageless.push(ref[2 * b + k]);
          }
        }
      },
      dispose: () => {
        kept?.dispose();
        kept = null;
        tf.dispose([policyInput.pixels, policyInput.imageEmbeds].filter((t) => t !== null));
      },
    };
  }

  stepMetrics(): Record<string, number> {
    const r = this.records;
    const values: LogpValues = r.policyImageless.length > 0 ? r : { ...r, policyImageless: undefined, refImageless: undefined };
    return preferenceValues(values, this.config.objective).metrics as Record<string, number>;
  }

  async prepare(given: { tokenizer?: string | null }): Promise<InputFingerprints> {
    const inputs = await preferenceInputs(this.model, this.source, this.config, given);
    this.cache = new RefCache(referenceScope(inputs));
    return inputs;
  }

  exportCache(): SavedRefCache {
    return this.cache.export();
  }

  importCache(saved: SavedRefCache | null): void {
    this.cache = RefCache.from(saved, this.cache.scope);
  }
}

/** Up-front checks of a preference source, with plain messages. */
export function checkPreferenceSource(source: PreferenceSource): void {
  if (!Number.isInteger(source.size) || source.size <= 0) {
    throw new Error(`Expected the preference source to hold at least one pair, but got size ${source.size}`);
  }
  const [H, W] = source.imageShape;
  if (!(Number.isInteger(H) && H > 0 && Number.isInteger(W) && W > 0)) {
    throw new Error(`Expected imageShape to be two positive integers, but got [${source.imageShape}]`);
  }
  const e = source.example(0);
  for (const key of ['promptIds', 'chosenIds', 'rejectedIds'] as const) {
    if (!Array.isArray(e[key])) throw new Error(`Expected example(0).${key} to be an array of token ids`);
  }
  if (e.chosenIds.length === 0 || e.rejectedIds.length === 0) {
    throw new Error('Expected non-empty answers (they include the end token), but example(0) has an empty one');
  }
}
