import { describe, expect, it } from 'vitest';
import { COCO_SYNONYMS } from './coco-synonyms';
import { buildSynonymTable, categoryOf, cocoTable, findMentions, pluralOf } from './probe-mentions';
import { judgeObjectAnswer, probeChairMetrics, probePopeMetrics, tableForAnnotations, yesNoCorrect } from './probe-score';

describe('COCO vocabulary', () => {
  it('has the 80 COCO categories, each word naming one category', () => {
    expect(Object.keys(COCO_SYNONYMS)).toHaveLength(80);
    expect(cocoTable().categories).toHaveLength(80);
    expect(categoryOf('Puppies')).toBe('dog');
    expect(categoryOf('hot-dog')).toBe('hot dog');
    expect(categoryOf('women')).toBe('person');
    expect(categoryOf('knives')).toBe('knife');
    expect(categoryOf('sofa')).toBe('couch');
    expect(categoryOf('spaceship')).toBeNull();
  });

  it('derives plurals: +s, +es, y -> ies, the last word of a phrase, irregulars', () => {
    expect(pluralOf('dog')).toBe('dogs');
    expect(pluralOf('bus')).toBe('buses');
    expect(pluralOf('bench')).toBe('benches');
    expect(pluralOf('pony')).toBe('ponies');
    expect(pluralOf('toy')).toBe('toys');
    expect(pluralOf('traffic light')).toBe('traffic lights');
    expect(pluralOf('mouse')).toBe('mice');
    expect(pluralOf('sheep')).toBe('sheep');
  });
});

describe('findMentions', () => {
  it('matches on word boundaries, singular and plural, longest phrase first, with spans', () => {
    const text = 'A teddy bear and two Dogs near a hot dog stand; catalogs, no cat.';
    const m = findMentions(text);
    expect(m.map((x) => [x.object, text.slice(x.start, x.end)])).toEqual([
      ['teddy bear', 'teddy bear'],
      ['dog', 'Dogs'],
      ['hot dog', 'hot dog'],
      ['cat', 'cat'],
    ]);
  });

  it('counts every occurrence and accepts hyphens or several spaces inside a phrase', () => {
    const m = findMentions('The dog chased the dog. A stop-sign, a stop  sign.');
    expect(m.map((x) => x.object)).toEqual(['dog', 'dog', 'stop sign', 'stop sign']);
  });

  it('a custom vocabulary adds the user\'s own objects as categories', () => {
    const t = buildSynonymTable({ forklift: ['lift truck'] }, ['pallet', 'Forklift']);
    expect(t.categories).toEqual(['forklift', 'pallet']);
    expect(findMentions('Two lift trucks carry pallets.', t).map((x) => x.object)).toEqual(['forklift', 'pallet']);
  });
});

describe('judgeObjectAnswer and probeChairMetrics (hand-worked)', () => {
  it('marks each mention correct or hallucinated against the annotation, through synonyms', () => {
    const j = judgeObjectAnswer('A puppy and a cat sit on a sofa next to two cats.', ['dog', 'couch', 'tv']);
    expect(j.marks.map((m) => [m.object, m.kind])).toEqual([
      ['dog', 'correct'],
      ['cat', 'hallucinated'],
      ['couch', 'correct'],
      ['cat', 'hallucinated'],
    ]);
    expect(j.marks[0]).toMatchObject({ start: 2, end: 7 });
    expect(j.hallucinated).toEqual(['cat']);
    expect(j.covered).toEqual(['dog', 'couch']);
    expect(j.missed).toEqual(['tv']);
  });

  it('CHAIR_s 2/3, CHAIR_i 3/7 (every mention), Cover 4/6 on three answers', () => {
    const r = probeChairMetrics([
      // 4 mentions: dog ok, cat x2 hallucinated, couch ok. Truth {dog, couch, tv}: covered 2.
      { answer: 'A puppy and a cat sit on a sofa next to two cats.', objects: ['dog', 'couch', 'tv'] },
      // 2 mentions, both correct; truth {person, bicycle}: covered 2.
      { answer: 'A man rides a bike.', objects: ['person', 'bicycle'] },
      // 1 mention, hallucinated (kite); truth {forklift}: covered 0.
      { answer: 'A kite over the warehouse.', objects: ['forklift'] },
    ]);
    expect(r).toEqual({
      answers: 3,
      chairS: 2 / 3,
      chairI: 3 / 7,
      cover: 4 / 6,
      mentions: 7,
      hallucinatedMentions: 3,
      truthObjects: 6,
      coveredObjects: 4,
    });
  });

  it('the annotation\'s own labels join the vocabulary, so naming them counts as covered', () => {
    const t = tableForAnnotations([['forklift', 'dog']]);
    const r = probeChairMetrics([{ answer: 'A forklift and a dog.', objects: ['forklift', 'dog'] }], t);
    expect(r.cover).toBe(1);
    expect(r.chairI).toBe(0);
  });

  it('an answer with no mentions is neither hallucinated nor covering; no answers is an error', () => {
    const r = probeChairMetrics([{ answer: 'It is hard to say.', objects: ['dog'] }]);
    expect([r.chairS, r.chairI, r.cover, r.mentions]).toEqual([0, 0, 0, 0]);
    expect(() => probeChairMetrics([])).toThrow('Expected at least one answer to score, but got none');
  });
});

describe('probePopeMetrics', () => {
  it('free-text answers through POPE\'s rule: tp 2, fn 1, fp 1, tn 1', () => {
    const r = probePopeMetrics([
      { answer: 'Yes, there is a dog.', label: 'yes' },
      { answer: 'Yes.', label: 'yes' },
      { answer: 'There is not. Yes it is a cat.', label: 'yes' },
      { answer: 'Yes', label: 'no' },
      { answer: 'No, there is no car.', label: 'no' },
    ]);
    // accuracy 3/5, precision 2/3, recall 2/3, F1 2/3, yes-ratio 3/5
    expect(r.accuracy).toBeCloseTo(0.6, 12);
    expect(r.precision).toBeCloseTo(2 / 3, 12);
    expect(r.recall).toBeCloseTo(2 / 3, 12);
    expect(r.f1).toBeCloseTo(2 / 3, 12);
    expect(r.yesRatio).toBeCloseTo(0.6, 12);
    expect(yesNoCorrect({ answer: 'Not at all.', label: 'no' })).toBe(true);
  });
});
