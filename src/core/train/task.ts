/**
 * What the loop asks of an objective (preference or SFT): forward passes for a micro-batch,
 * per-example values for the metrics, and whatever cache must travel with checkpoints.
 * Reads from tensors are asynchronous (`await data()`), so GPU backends never stall on a
 * synchronous readback.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import type { InputFingerprints } from './fingerprint';
import type { SavedRefCache } from './ref-cache';

export interface MicroBatch {
  /**
   * Runs inside tf.variableGrads: this micro-batch's share of the step loss, i.e. the sum of
   * its examples' losses divided by the step's normaliser, so the shares add up to the step
   * loss. Tensors it must read later are kept and released by `dispose`.
   */
  loss(): tf.Scalar;
  /** After the gradient: appends the per-example values to the step's records. */
  finish(): Promise<void>;
  /** Prompt + answer tokens through the policy. */
  readonly tokens: number;
  dispose(): void;
}

export interface Task {
  readonly kind: 'preference' | 'sft';
  readonly size: number;
  /** Starts a step: clears the records; `indices` are every example of the step. */
  beginStep(indices: number[]): void;
  /** One micro-batch of the current step. `rng` is the loop's stream (dropout). */
  microBatch(indices: number[], epoch: number, rng: Rng): Promise<MicroBatch>;
  /** Metrics of the current step (plain numbers, named as in docs/objective.md). */
  stepMetrics(): Record<string, number>;
  /**
   * Before the first step: fingerprints of the task's inputs (fingerprint.ts), which the loop
   * records in checkpoints and compares on resume; null when the task records none (SFT).
   */
  prepare(given: { tokenizer?: string | null }): Promise<InputFingerprints | null>;
  exportCache(): SavedRefCache | null;
  /** Restores a saved cache; one computed from other inputs (another scope) is dropped. */
  importCache(saved: SavedRefCache | null): void;
}
