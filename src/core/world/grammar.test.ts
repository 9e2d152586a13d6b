import { describe, expect, it } from 'vitest';
import { ALL_OBJECTS, objectKey, parseObjectKey } from './objects';
import { countAnswer, describeObjects, mentionedKeys, parseCount, parseDescription, popeQuestion } from './grammar';
import { worldVocabulary } from './vocabulary';
import { splitWords } from './grammar';

const obj = parseObjectKey;

describe('answer grammar', () => {
  it('lists objects with commas and a final "and", with "an" before vowels', () => {
    expect(describeObjects([obj('red circle')])).toBe('a red circle.');
    expect(describeObjects([obj('red circle'), obj('orange ring')])).toBe('a red circle and an orange ring.');
    expect(describeObjects([obj('red circle'), obj('blue square'), obj('green cross')])).toBe('a red circle, a blue square and a green cross.');
    expect(describeObjects(['red bar', 'blue bar', 'green bar', 'yellow bar'].map(obj))).toBe('a red bar, a blue bar, a green bar and a yellow bar.');
    expect(() => describeObjects([])).toThrow('Expected at least one object');
  });

  it('asks POPE and count questions', () => {
    expect(popeQuestion(obj('orange bar'))).toBe('Is there an orange bar in the image?');
    expect(countAnswer(3)).toBe('three.');
    expect(() => countAnswer(9)).toThrow('Expected count');
  });
});

describe('parseDescription', () => {
  it('round-trips every caption the grammar can produce', () => {
    for (let i = 0; i < ALL_OBJECTS.length; i++) {
      const objects = [ALL_OBJECTS[i], ALL_OBJECTS[(i * 7 + 3) % 36], ALL_OBJECTS[(i * 5 + 1) % 36]];
      expect(parseDescription(describeObjects(objects))).toEqual({ objects, unparsed: [] });
    }
  });

  it('reads space-separated punctuation, any case, and a missing separator', () => {
    const p = parseDescription('A Red Circle , a blue square and a green cross .');
    expect(p.objects.map(objectKey)).toEqual(['red circle', 'blue square', 'green cross']);
    expect(parseDescription('a red circle a blue square.').objects.map(objectKey)).toEqual(['red circle', 'blue square']);
  });

  it('reports what it cannot read instead of dropping it', () => {
    expect(parseDescription('a big red circle, a pink square and a green.')).toEqual({
      objects: [obj('red circle')],
      unparsed: ['a big', 'a pink square', 'a green'],
    });
    expect(parseDescription('')).toEqual({ objects: [], unparsed: [''] });
    expect(parseDescription('yes')).toEqual({ objects: [], unparsed: ['yes'] });
  });

  it('keeps repeats in objects and dedupes them in mentionedKeys', () => {
    const p = parseDescription('a red circle and a red circle.');
    expect(p.objects).toHaveLength(2);
    expect(mentionedKeys(p)).toEqual(['red circle']);
  });

  it('reads count answers', () => {
    expect(parseCount('three.')).toBe(3);
    expect(parseCount('Four')).toBe(4);
    expect(parseCount('two or three')).toBeNull();
    expect(parseCount('many')).toBeNull();
  });
});

describe('worldVocabulary', () => {
  it('covers every word of every prompt and answer, sorted and distinct', () => {
    const vocab = worldVocabulary();
    expect(vocab).toEqual([...new Set(vocab)].sort());
    for (const w of ['Describe', 'the', 'image', '.', ',', '?', 'and', 'a', 'an', 'yes', 'no', 'Is', 'there', 'in', 'How', 'many', 'objects', 'are', 'four']) {
      expect(vocab).toContain(w);
    }
    for (const o of ALL_OBJECTS) expect(vocab).toEqual(expect.arrayContaining(splitWords(popeQuestion(o))));
    expect(vocab.length).toBeLessThan(40);
  });
});
