import { describe, expect, it } from 'vitest';
import { imageReliance } from './reliance';

describe('imageReliance', () => {
  it('is the mean of logp(y_w|m) - logp(y_w|m\') with its spread (hand-worked)', () => {
    // Differences 1, 0, 2: mean 1, sample variance (0 + 1 + 1) / 2 = 1, two of three positive.
    const r = imageReliance([-1, -2, -3], [-2, -2, -5]);
    expect(r.pairs).toBe(3);
    expect(r.mean).toBeCloseTo(1);
    expect(r.std).toBeCloseTo(1);
    expect(r.positiveShare).toBeCloseTo(2 / 3);
  });

  it('is about 0 for a model that ignores the image', () => {
    expect(imageReliance([-4.5, -3], [-4.5, -3])).toEqual({ pairs: 2, mean: 0, std: 0, positiveShare: 0 });
  });

  it('rejects mismatched, empty and non-finite input with plain errors', () => {
    expect(() => imageReliance([1, 2], [1])).toThrow('Expected as many corrupted-image log-probs as real-image ones (2), but got 1');
    expect(() => imageReliance([], [])).toThrow('Expected at least one pair');
    expect(() => imageReliance([NaN], [0])).toThrow('Expected finite log-probabilities');
  });
});
