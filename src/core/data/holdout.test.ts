import { describe, expect, it } from 'vitest';
import { splitHeldOut } from './holdout';

const recs = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `r${i}` }));

describe('splitHeldOut', () => {
  it('holds out exactly n records, disjoint from the training ones, in dataset order', () => {
    const s = splitHeldOut(recs(20), 5, 7);
    expect(s.heldOut).toHaveLength(5);
    expect(s.train).toHaveLength(15);
    const held = new Set(s.heldOut.map((r) => r.id));
    expect(s.train.some((r) => held.has(r.id))).toBe(false);
    const order = (xs: { id: string }[]) => xs.map((r) => Number(r.id.slice(1)));
    expect(order(s.heldOut)).toEqual([...order(s.heldOut)].sort((a, b) => a - b));
  });

  it('is seeded and order-free: same seed same split, even with the records shuffled; another seed differs', () => {
    const a = splitHeldOut(recs(30), 6, 1).heldOut.map((r) => r.id).sort();
    const b = splitHeldOut(recs(30).reverse(), 6, 1).heldOut.map((r) => r.id).sort();
    const c = splitHeldOut(recs(30), 6, 2).heldOut.map((r) => r.id).sort();
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('0 keeps everything; too many or a bad count is refused with the reason', () => {
    expect(splitHeldOut(recs(3), 0, 0)).toEqual({ train: recs(3), heldOut: [] });
    expect(() => splitHeldOut(recs(3), 3, 0)).toThrow('holdOut 3 leaves nothing to train on: the dataset has 3 valid record(s); hold out fewer than 3.');
    expect(() => splitHeldOut(recs(3), -1, 0)).toThrow('Expected holdOut to be a non-negative integer, but got -1');
  });
});
