/**
 * Image reliance: this project's diagnostic of unconditional preference (docs/objective.md). For each
 * held-out pair, logp(y_w | m) - logp(y_w | m'): how much the chosen answer's log-probability
 * drops when the image is corrupted. A model that ignores the image scores about 0.
 */

export interface RelianceReport {
  pairs: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single pair. */
  std: number;
  /** Share of pairs where the real image makes the answer more likely. */
  positiveShare: number;
}

export function imageReliance(logpWithImage: readonly number[], logpWithNegative: readonly number[]): RelianceReport {
  if (logpWithImage.length !== logpWithNegative.length) {
    throw new Error(`Expected as many corrupted-image log-probs as real-image ones (${logpWithImage.length}), but got ${logpWithNegative.length}`);
  }
  if (logpWithImage.length === 0) throw new Error('Expected at least one pair, but got none');
  const diffs = logpWithImage.map((v, i) => v - logpWithNegative[i]);
  if (diffs.some((d) => !Number.isFinite(d))) throw new Error('Expected finite log-probabilities, but got NaN or Infinity');
  const n = diffs.length;
  const mean = diffs.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? diffs.reduce((s, d) => s + (d - mean) ** 2, 0) / (n - 1) : 0;
  return { pairs: n, mean, std: Math.sqrt(variance), positiveShare: diffs.filter((d) => d > 0).length / n };
}
