/**
 * The supervised fine-tuning objective: mean negative log-likelihood per answer token
 * (answer tokens plus the end token, the same tokens as a preference log-prob).
 *
 *   L_sft = - Σ_b logp(y_b | m_b, q_b) / Σ_b |y_b|
 */
import * as tf from '@tensorflow/tfjs-core';

/** logps: [B] summed answer log-probs; tokenCount: Σ_b |y_b| over the batch. */
export function sftLoss(logps: tf.Tensor1D, tokenCount: number): tf.Scalar {
  if (!Number.isInteger(tokenCount) || tokenCount <= 0) {
    throw new Error(`Expected tokenCount to be a positive integer, but got ${tokenCount}`);
  }
  return tf.tidy(() => tf.div(tf.neg(tf.sum(logps)), tokenCount));
}

export const SFT_METRIC_NAMES = ['loss', 'perplexity'] as const;

/** Plain-number metrics from per-example log-probs and answer lengths. */
export function sftValues(logps: ArrayLike<number>, lengths: ArrayLike<number>): { loss: number; metrics: Record<string, number> } {
  let nll = 0;
  let tokens = 0;
  for (let i = 0; i < logps.length; i++) {
    nll -= logps[i];
    tokens += lengths[i];
  }
  const loss = nll / tokens;
  return { loss, metrics: { loss, perplexity: Math.exp(loss) } };
}
