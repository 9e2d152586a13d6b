import { describe, expect, it } from 'vitest';
import { Rng } from './rng';

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.nextUint32())(new Rng(42)));
    const b = Array.from({ length: 5 }, ((r) => () => r.nextUint32())(new Rng(42)));
    const c = Array.from({ length: 5 }, ((r) => () => r.nextUint32())(new Rng(43)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('resumes exactly from a saved state', () => {
    const r = new Rng(7);
    for (let i = 0; i < 10; i++) r.next();
    const saved = r.state();
    const expected = [r.next(), r.normal(), r.int(100)];
    const resumed = new Rng(saved);
    expect([resumed.next(), resumed.normal(), resumed.int(100)]).toEqual(expected);
  });

  it('draws uniforms in [0,1) with the right mean, and normals with unit variance', () => {
    const r = new Rng(1);
    let sum = 0;
    let sq = 0;
    const n = 20000;
    for (let i = 0; i < n; i++) {
      const u = r.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      sum += u;
      const z = r.normal();
      sq += z * z;
    }
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(sq / n - 1)).toBeLessThan(0.05);
  });

  it('derives independent labelled streams without advancing anything', () => {
    expect(Rng.derive(5, 'crops').next()).toBe(Rng.derive(5, 'crops').next());
    expect(Rng.derive(5, 'crops').next()).not.toBe(Rng.derive(5, 'order').next());
  });

  it('refuses bad arguments with plain messages', () => {
    expect(() => new Rng(1.5)).toThrow('Expected seed to be an integer, but got 1.5');
    expect(() => new Rng(1).int(0)).toThrow('Expected n to be a positive integer, but got 0');
    expect(() => new Rng(1).pick([])).toThrow('Cannot pick from an empty list');
  });
});
