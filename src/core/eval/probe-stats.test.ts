import { describe, expect, it } from 'vitest';
import { signTest, wilsonInterval } from './probe-stats';

describe('wilsonInterval', () => {
  // Reference values: statsmodels proportion_confint(k, n, alpha=0.05, method='wilson'),
  // which are also the textbook closed form (checked by hand for 5/10 below).
  it('5 of 10: [0.2366, 0.7634], symmetric about 1/2', () => {
    const r = wilsonInterval(5, 10);
    expect(r.estimate).toBe(0.5);
    expect(r.low).toBeCloseTo(0.236593, 5);
    expect(r.high).toBeCloseTo(0.763407, 5);
  });

  it('0 of 10: [0, 0.2775] (not the empty interval of the normal approximation)', () => {
    const r = wilsonInterval(0, 10);
    expect(r.low).toBe(0);
    expect(r.high).toBeCloseTo(0.277533, 5);
  });

  it('10 of 10 mirrors 0 of 10; 1 of 20: [0.00889, 0.2361]', () => {
    const all = wilsonInterval(10, 10);
    expect(all.high).toBe(1);
    expect(all.low).toBeCloseTo(1 - 0.277533, 5);
    const r = wilsonInterval(1, 20);
    expect(r.low).toBeCloseTo(0.008881, 5);
    expect(r.high).toBeCloseTo(0.236128, 5);
  });

  it('n = 0 says nothing is known: [0, 1]; bad counts are refused with the reason', () => {
    expect(wilsonInterval(0, 0)).toEqual({ estimate: 0, low: 0, high: 1 });
    expect(() => wilsonInterval(3, 2)).toThrow('Expected k <= n, but got k = 3, n = 2');
    expect(() => wilsonInterval(-1, 2)).toThrow('Expected k to be a non-negative integer, but got -1');
    expect(() => wilsonInterval(1, 2.5)).toThrow('Expected n to be a non-negative integer, but got 2.5');
  });
});

describe('signTest', () => {
  it('8 wins, 2 losses: p = 2 * (1 + 10 + 45) / 1024 = 0.109375', () => {
    expect(signTest(8, 2).p).toBeCloseTo(112 / 1024, 12);
    expect(signTest(2, 8).p).toBeCloseTo(112 / 1024, 12);
  });

  it('10 wins, 0 losses: p = 2 / 1024; 5 vs 5 and 0 vs 0: p = 1', () => {
    expect(signTest(10, 0).p).toBeCloseTo(2 / 1024, 14);
    expect(signTest(5, 5).p).toBe(1);
    expect(signTest(0, 0)).toEqual({ wins: 0, losses: 0, n: 0, p: 1 });
  });

  it('15 vs 5: p = 0.041389 (binom_test(15, 20, 0.5)); 1 vs 0: p = 1', () => {
    expect(signTest(15, 5).p).toBeCloseTo(0.0413894653, 9);
    expect(signTest(1, 0).p).toBe(1);
  });

  it('large n stays finite and exact in the tail: 60 vs 40 gives p = 0.056888', () => {
    expect(signTest(60, 40).p).toBeCloseTo(0.0568879, 5);
  });

  it('refuses negative or fractional counts', () => {
    expect(() => signTest(-1, 2)).toThrow('Expected wins to be a non-negative integer, but got -1');
  });
});
