import { describe, expect, it } from 'vitest';
import { chairMetrics, judgeCase } from './chair';

describe('judgeCase', () => {
  it('splits mentions into hallucinated and covered, and finds missed and bait objects', () => {
    expect(
      judgeCase({
        mentioned: ['red circle', 'blue square', 'red circle'],
        truth: ['red circle', 'green cross'],
        bait: ['blue square', 'yellow ring'],
      }),
    ).toEqual({ hallucinated: ['blue square'], covered: ['red circle'], missed: ['green cross'], baitMentioned: ['blue square'] });
  });
});

describe('chairMetrics', () => {
  it('matches a hand-worked example', () => {
    const r = chairMetrics([
      // 2 mentions, 1 hallucinated; covers 1 of 2; mentions 1 of 2 bait objects.
      { mentioned: ['red circle', 'blue square'], truth: ['red circle', 'green cross'], bait: ['blue square', 'yellow ring'] },
      // A repeat is a second mention (chair.py): 2 mentions, 0 hallucinated; covers 1 of 1.
      { mentioned: ['green cross', 'green cross'], truth: ['green cross'], bait: [] },
      // Nothing readable: 0 mentions, covers 0 of 1, bait 0 of 1, one unparsed answer.
      { mentioned: [], truth: ['yellow bar'], bait: ['red ring'], unparsed: ['a big'] },
    ]);
    expect(r.answers).toBe(3);
    expect(r.chairS).toBeCloseTo(1 / 3); // 1 of 3 answers hallucinates
    expect(r).not.toHaveProperty('hal'); // AMBER's Hal is CHAIR_s: one number, not two rows
    expect(r.mentions).toBe(4);
    expect(r.hallucinatedMentions).toBe(1);
    expect(r.chairI).toBeCloseTo(1 / 4); // 1 of 4 mentions
    expect(r.truthObjects).toBe(4);
    expect(r.coveredObjects).toBe(2);
    expect(r.cover).toBeCloseTo(0.5); // 2 of 4 annotated objects
    expect(r.baitObjects).toBe(3);
    expect(r.cog).toBeCloseTo(1 / 3); // 1 of 3 bait objects named
    expect(r.unparsedShare).toBeCloseTo(1 / 3);
  });

  it('separates CHAIR_s (per answer) from CHAIR_i (per mention)', () => {
    const r = chairMetrics([
      { mentioned: ['a', 'b', 'c'], truth: ['a'] }, // 2 of 3 mentions hallucinated
      { mentioned: ['d'], truth: ['d', 'e'] }, // clean, covers 1 of 2
    ]);
    expect(r.chairS).toBeCloseTo(0.5);
    expect(r.chairI).toBeCloseTo(2 / 4);
    expect(r.cover).toBeCloseTo(2 / 3);
    expect(r.cog).toBe(0); // no bait anywhere
  });

  // Rohrbach et al.'s chair.py: every mention counts, so naming an absent object twice is two
  // hallucinated mentions. Counting each object once per answer would give 1/2 here.
  it('CHAIR_i counts every mention, repeats included (chair.py); Cover counts distinct objects', () => {
    const r = chairMetrics([{ mentioned: ['dog', 'cat', 'cat', 'dog', 'cat'], truth: ['dog', 'bird'] }]);
    expect(r.mentions).toBe(5);
    expect(r.hallucinatedMentions).toBe(3);
    expect(r.chairI).toBeCloseTo(3 / 5);
    expect(r.chairS).toBe(1);
    expect(r.cover).toBeCloseTo(1 / 2); // dog of {dog, bird}
    expect(r.coveredObjects).toBe(1);
  });

  it('gives CHAIR_i 0 when nothing is mentioned, and refuses an empty list', () => {
    expect(chairMetrics([{ mentioned: [], truth: ['a'] }]).chairI).toBe(0);
    expect(() => chairMetrics([])).toThrow('Expected at least one answer');
  });
});
