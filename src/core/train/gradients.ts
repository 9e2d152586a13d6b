/**
 * Gradient bookkeeping for one optimizer step: accumulation over micro-batches, the global
 * norm (reported BEFORE clipping, as PyTorch's clip_grad_norm_ returns it), clipping, and
 * the NaN/Inf check that stops a run.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Sums micro-batch gradients. Owns its tensors: call `take()` or `dispose()`. */
export class GradAccumulator {
  private sums: tf.Tensor[] | null = null;

  /** Adds `grads` (aligned with the variables) and disposes them. */
  add(grads: tf.Tensor[]): void {
    if (this.sums === null) {
      this.sums = grads;
      return;
    }
    const old = this.sums;
    this.sums = tf.tidy(() => old.map((s, i) => tf.add(s, grads[i])));
    tf.dispose([...old, ...grads]);
  }

  /** The summed gradients; the caller now owns them. */
  take(): tf.Tensor[] {
    if (this.sums === null) throw new Error('No gradients were accumulated');
    const out = this.sums;
    this.sums = null;
    return out;
  }

  dispose(): void {
    if (this.sums) tf.dispose(this.sums);
    this.sums = null;
  }
}

/** sqrt(Σ ||g_i||²) over every gradient, as a plain number (NaN/Inf propagate). */
export async function globalNorm(grads: tf.Tensor[]): Promise<number> {
  // Pairwise adds, not tf.addN: webgpu's AddN binds one storage buffer per input and fails
  // validation beyond the adapter's per-stage limit (8 on some), silently giving garbage.
  const sum = tf.tidy(() => grads.map((g) => tf.sum(tf.square(g))).reduce((a, b) => tf.add(a, b)));
  const [value] = await sum.data();
  sum.dispose();
  return Math.sqrt(value);
}

/**
 * Scales the gradients so their global norm is at most `maxNorm` (PyTorch: coefficient
 * maxNorm / (norm + 1e-6), applied only when below 1). Disposes `grads` when it scales and
 * returns new tensors; otherwise returns `grads` itself.
 */
export function clipByGlobalNorm(grads: tf.Tensor[], norm: number, maxNorm: number): tf.Tensor[] {
  const coef = maxNorm / (norm + 1e-6);
  if (!(coef < 1)) return grads;
  const out = tf.tidy(() => grads.map((g) => tf.mul(g, coef)));
  tf.dispose(grads);
  return out;
}

/** Index of the first tensor holding a NaN or ±Inf, or -1. */
export async function firstNonFinite(grads: tf.Tensor[]): Promise<number> {
  for (let i = 0; i < grads.length; i++) {
    const values = await grads[i].data();
    for (let j = 0; j < values.length; j++) if (!Number.isFinite(values[j])) return i;
  }
  return -1;
}
