import { describe, expect, it } from 'vitest';
import { themeTypicalShare } from './theme-typical';
import { parseDescription } from './grammar';
import { objectKey } from './objects';

const mentions = (answer: string): string[] => parseDescription(answer).objects.map(objectKey);

describe('theme-typical share of hallucinated mentions', () => {
  // garden's typical objects: green triangle, yellow circle, red ring, purple cross, orange bar.
  const garden = { theme: 'garden', truth: ['green triangle', 'blue bar'] };

  it('counts every mention: a typical object said twice, another typical one and an atypical one give 3/4', () => {
    const r = themeTypicalShare([{ ...garden, mentioned: mentions('a green triangle, a red ring, a red ring, a blue circle and a yellow circle.') }]);
    expect(r.hallucinatedMentions).toBe(4);
    expect(r.typicalMentions).toBe(3);
    expect(r.share).toBe(0.75);
    // 34 absent objects, of which 4 are garden-typical (green triangle is present): chance 4/34.
    expect(r.chance).toBeCloseTo(4 / 34, 12);
  });

  it('weights the chance level by hallucinated mentions across scenes', () => {
    const r = themeTypicalShare([
      { ...garden, mentioned: mentions('a blue bar and a purple cross.') }, // 1 typical of 1; chance 4/34
      // kitchen (orange circle, blue ring, red square, yellow cross, purple bar), none present: 5/33 each.
      { theme: 'kitchen', truth: ['green circle', 'red bar', 'blue triangle'], mentioned: mentions('a green circle, a red circle and a green square.') },
    ]);
    expect(r).toMatchObject({ hallucinatedMentions: 3, typicalMentions: 1 });
    expect(r.share).toBeCloseTo(1 / 3, 12);
    expect(r.chance).toBeCloseTo((4 / 34 + 2 * (5 / 33)) / 3, 12);
  });

  it('is undefined (NaN), not 0, when nothing is hallucinated', () => {
    const r = themeTypicalShare([{ ...garden, mentioned: mentions('a green triangle and a blue bar.') }]);
    expect(r.hallucinatedMentions).toBe(0);
    expect(r.share).toBeNaN();
    expect(r.chance).toBeNaN();
    expect(() => themeTypicalShare([{ theme: 'moon', truth: [], mentioned: [] }])).toThrow(/theme name/);
  });
});
