/**
 * What the training loop needs from its callers: a model, a data source, and a driver's hooks.
 * Only plain numbers and typed arrays cross this boundary, apart from the model itself.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import type { NegativeSpec } from './fingerprint';

/** One batch of sequences to score: answer log-probs are summed per example. */
export interface SequenceBatch {
  /** [B, H, W, 3] normalised pixels (see pixels.ts), or null for no image. */
  pixels: tf.Tensor4D | null;
  /** [B, N, D] image embeddings from encodeImages, used instead of pixels. */
  imageEmbeds?: tf.Tensor3D | null;
  promptIds: number[][];
  /** Answer tokens INCLUDING the end token. */
  answerIds: number[][];
}

/** The slice of the VLM (src/core/model, `Vlm`) the loop uses. */
export interface TrainableModel {
  /** [B] summed answer log-probs; differentiable w.r.t. trainableVariables(). */
  sequenceLogProbs(batch: SequenceBatch, options?: { lora?: boolean; dropoutRng?: Rng }): tf.Tensor1D;
  /**
   * pixels [B, H, W, 3] -> image embeddings [B, N, D] (vision tower + connector). Optional:
   * when present, preference training encodes each image once per micro-batch (the adapters
   * never touch the vision side, so the embeddings are constants of the step).
   */
  encodeImages?(pixels: tf.Tensor4D): tf.Tensor3D;
  /** LoRA A/B when adapters are attached, otherwise every weight (SFT of the base). */
  trainableVariables(): tf.Variable[];
  /** A name that is stable across processes (tfjs names carry a per-instance prefix). */
  nameOf?(v: tf.Variable): string;
  /**
   * The frozen base weights by checkpoint name (what the reference model computes with), for
   * the run's `base` fingerprint (fingerprint.ts). Without it the base is not fingerprinted.
   */
  baseParameters?(): Array<[string, tf.Variable]>;
  /** Per-channel normalisation of [0, 1] RGB pixels, applied by the loop. */
  config?: { image?: { mean: readonly number[]; std: readonly number[] } };
}

/** One preference pair. Token ids are already encoded; answers end with the end token. */
export interface PreferenceExample {
  /** Stable across runs and epochs: keys the reference cache and m'. */
  id: string;
  /** [H, W, 3] row-major, RGB in [0, 1], H x W = source.imageShape. */
  image: Float32Array;
  promptIds: number[];
  /** y_w, including the end token. */
  chosenIds: number[];
  /** y_l, including the end token. */
  rejectedIds: number[];
}

export interface PreferenceSource {
  readonly size: number;
  /** [H, W] of every image (images are batched, so one size per source). */
  readonly imageShape: readonly [number, number];
  example(i: number): PreferenceExample;
  /**
   * The corrupted image m' of pair i ([H, W, 3] in [0, 1]), drawn from `rng` only. The loop
   * passes a generator derived from (seed, pair id[, epoch]) and `epoch` = 0 when m' is fixed
   * per pair, so the same m' comes back for the policy, the reference and a resumed run.
   */
  negative(i: number, epoch: number, rng: Rng): Float32Array;
  /** The m' strategy and its parameters, for readable resume messages (fingerprint.ts). */
  readonly negativeSpec?: NegativeSpec;
}

/** One supervised question/answer example. */
export interface SftExample {
  id: string;
  /** [H, W, 3] in [0, 1], or null for a text-only example (a batch is all one or the other). */
  image: Float32Array | null;
  promptIds: number[];
  /** The target answer, including the end token. */
  answerIds: number[];
}

export interface SftSource {
  readonly size: number;
  readonly imageShape: readonly [number, number];
  example(i: number): SftExample;
}

/** Sent after every optimizer step. Field names follow src/shared's RunProgress. */
export interface StepEvent {
  /** Optimizer steps completed (1 after the first step). */
  step: number;
  totalSteps: number;
  /** Epochs completed, fractional (1.5 = halfway through the second epoch), as HF logs it. */
  epoch: number;
  /** Every metric of docs/objective.md (or SFT's), plus grad_norm and learning_rate. */
  metrics: Record<string, number>;
  learningRate: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Pairs (or SFT examples) in this step. */
  pairs: number;
  /** Prompt + answer tokens through the policy in this step (image positions not counted). */
  tokens: number;
  /** Over this step's wall time (reference forwards included). */
  pairsPerSec: number;
  /** Prompt + answer tokens through the policy per second (image positions not counted). */
  tokensPerSec: number;
  elapsedMs: number;
  /** From the mean step time of this session; null before the first step. */
  etaMs: number | null;
}

export interface CheckpointEvent {
  step: number;
  path: string;
}

/** Sent once, after a resume (if any) and before the first step. */
export interface StartEvent {
  totalSteps: number;
  /** Steps already done (0, or the checkpoint's step when resuming). */
  startStep: number;
  /** Examples (pairs) per epoch. */
  size: number;
  /** What a resume noticed and went on with (another backend or engine version). */
  notes: string[];
}

/** How the driver steers a run. */
export interface LoopHooks {
  onStart?: (e: StartEvent) => void;
  onStep?: (e: StepEvent) => void;
  onCheckpoint?: (e: CheckpointEvent) => void;
  /** Checked before every step; an aborted run saves a checkpoint and returns 'aborted'. */
  signal?: AbortSignal;
  /** Awaited before every step: return a promise that resolves on "resume" to pause. */
  beforeStep?: (step: number) => Promise<void> | void;
  /** A checkpoint folder (or a checkpoint directory: its latest) to continue from. */
  resumeFrom?: string;
  /**
   * Fingerprints the loop cannot compute from the model and source (fingerprint.ts):
   * the tokenizer's (`tokenizerFingerprint(modelDir)`). Recorded and compared on resume.
   */
  inputs?: { tokenizer?: string | null };
}

export interface TrainResult {
  status: 'completed' | 'aborted';
  /** Optimizer steps completed in total (including those before a resume). */
  step: number;
  totalSteps: number;
  /** The last step's metrics (null when no step ran). */
  metrics: Record<string, number> | null;
  /** The last checkpoint written, if any. */
  checkpoint: string | null;
}
