import { describe, expect, it } from 'vitest';
import { Rng } from '../rng';
import {
  cooccurrenceCounts,
  objectFrequencies,
  parsePopeAnswer,
  popeMetrics,
  rankByCooccurrence,
  rankByFrequency,
  samplePopeQuestions,
  type PopeItem,
} from './pope';

const items = (spec: Array<[PopeItem['label'], PopeItem['answer'], number]>): PopeItem[] =>
  spec.flatMap(([label, answer, n]) => Array.from({ length: n }, () => ({ label, answer })));

describe('popeMetrics', () => {
  it('matches a hand-worked confusion matrix (tp 2, fn 1, fp 1, tn 2)', () => {
    const r = popeMetrics(items([['yes', 'yes', 2], ['yes', 'no', 1], ['no', 'yes', 1], ['no', 'no', 2]]));
    expect(r.questions).toBe(6);
    expect(r.accuracy).toBeCloseTo(4 / 6);
    expect(r.precision).toBeCloseTo(2 / 3);
    expect(r.recall).toBeCloseTo(2 / 3);
    expect(r.f1).toBeCloseTo(2 / 3);
    expect(r.yesRatio).toBeCloseTo(0.5);
  });

  it('scores an always-yes model: accuracy 0.5, precision 0.5, recall 1, F1 2/3, yes-ratio 1', () => {
    const r = popeMetrics(items([['yes', 'yes', 3], ['no', 'yes', 3]]));
    expect(r).toEqual({ questions: 6, accuracy: 0.5, precision: 0.5, recall: 1, f1: expect.closeTo(2 / 3), yesRatio: 1 });
  });

  it('gives precision and F1 0 for an always-no model instead of NaN', () => {
    const r = popeMetrics(items([['yes', 'no', 2], ['no', 'no', 2]]));
    expect(r).toEqual({ questions: 4, accuracy: 0.5, precision: 0, recall: 0, f1: 0, yesRatio: 0 });
    expect(() => popeMetrics([])).toThrow('Expected at least one POPE answer');
  });
});

describe('parsePopeAnswer', () => {
  it('reads "no" iff the first sentence holds the word no or not', () => {
    expect(parsePopeAnswer('no')).toBe('no');
    expect(parsePopeAnswer('No, there is not.')).toBe('no');
    expect(parsePopeAnswer('There is not a red ring')).toBe('no');
    expect(parsePopeAnswer('yes')).toBe('yes');
    expect(parsePopeAnswer('Yes. There is no blue square.')).toBe('yes'); // second sentence ignored
    expect(parsePopeAnswer('nothing like it')).toBe('yes'); // a word, not a substring
    expect(parsePopeAnswer('')).toBe('yes');
  });
});

describe('samplePopeQuestions', () => {
  const present = ['a', 'b', 'c', 'd'];
  const ranked = ['x', 'y', 'z', 'w', 'a'];

  it('asks 3 present and the top 3 ranked absent objects in the popular and adversarial settings', () => {
    for (const setting of ['popular', 'adversarial'] as const) {
      const qs = samplePopeQuestions({ present, absent: ranked, setting, rng: new Rng(1) });
      const yes = qs.filter((q) => q.label === 'yes').map((q) => q.object);
      expect(yes).toHaveLength(3);
      expect(yes.every((o) => present.includes(o))).toBe(true);
      expect(qs.filter((q) => q.label === 'no').map((q) => q.object)).toEqual(['x', 'y', 'z']);
    }
  });

  it('draws random absent objects, never a present one, reproducibly', () => {
    const draw = (seed: number): string[] =>
      samplePopeQuestions({ present, absent: ranked, setting: 'random', rng: new Rng(seed) })
        .filter((q) => q.label === 'no')
        .map((q) => q.object);
    expect(draw(3)).toEqual(draw(3));
    expect(new Set(draw(3)).size).toBe(3);
    expect(draw(3).every((o) => ['x', 'y', 'z', 'w'].includes(o))).toBe(true);
  });

  it('keeps the classes balanced when the image holds fewer objects', () => {
    const qs = samplePopeQuestions({ present: ['a'], absent: ranked, setting: 'popular', rng: new Rng(1) });
    expect(qs).toEqual([
      { object: 'a', label: 'yes' },
      { object: 'x', label: 'no' },
    ]);
  });
});

describe('frequency and co-occurrence rankings', () => {
  const images = [['a', 'b'], ['a', 'c'], ['a', 'b'], ['d']];

  it('counts objects once per image and ranks by frequency, ties in given order', () => {
    const f = objectFrequencies([...images, ['a', 'a']]);
    expect(Object.fromEntries(f)).toEqual({ a: 4, b: 2, c: 1, d: 1 });
    expect(rankByFrequency(['d', 'c', 'e', 'b', 'a'], f)).toEqual(['a', 'b', 'd', 'c', 'e']);
  });

  it('ranks candidates by co-occurrence with the present objects', () => {
    const counts = cooccurrenceCounts(images);
    expect(counts.get('a')?.get('b')).toBe(2);
    expect(counts.get('b')?.get('a')).toBe(2);
    expect(counts.get('a')?.get('c')).toBe(1);
    expect(rankByCooccurrence(['d', 'c', 'b'], ['a'], counts)).toEqual(['b', 'c', 'd']);
    expect(rankByCooccurrence(['d', 'a'], ['b', 'c'], counts)).toEqual(['a', 'd']); // a: 2 + 1
  });
});
