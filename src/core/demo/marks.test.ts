import { describe, expect, it } from 'vitest';
import { Rng } from '../rng';
import { mentionedKeys, parseDescription } from '../world/grammar';
import { escapeHtml, markAnswer, markedHtml, parsedObjects } from './marks';

describe('markAnswer', () => {
  it('marks each mention with its span, correct or hallucinated', () => {
    const answer = 'a red circle, an orange ring and a blue square.';
    const { objects, marks } = markAnswer(answer, ['red circle', 'blue square']);
    expect(objects.map((o) => [o.name, answer.slice(o.start, o.end)])).toEqual([
      ['red circle', 'red circle'],
      ['orange ring', 'orange ring'],
      ['blue square', 'blue square'],
    ]);
    expect(marks.map((m) => [m.object, m.kind, m.start, m.end])).toEqual([
      ['red circle', 'correct', 2, 12],
      ['orange ring', 'hallucinated', 17, 28],
      ['blue square', 'correct', 35, 46],
    ]);
  });

  it('reads what the grammar parser reads: repeats, case, junk between objects', () => {
    const answer = 'A Red circle a blue square, big yellow bar and a red circle. no';
    const { marks } = markAnswer(answer, ['yellow bar']);
    expect(marks.map((m) => `${m.kind}:${answer.slice(m.start, m.end)}`)).toEqual([
      'hallucinated:Red circle',
      'hallucinated:blue square',
      'correct:yellow bar',
      'hallucinated:red circle',
    ]);
  });

  it('gives nothing for answers without objects', () => {
    expect(markAnswer('', ['red circle']).marks).toEqual([]);
    expect(markAnswer('yes', ['red circle']).marks).toEqual([]);
    expect(markAnswer('red', ['red circle']).marks).toEqual([]); // a color without a shape
  });

  it('agrees with parseDescription on random word salads', () => {
    const words = ['a', 'an', 'red', 'orange', 'blue', 'circle', 'ring', 'bar', 'and', ',', '.', 'the', 'big', 'two'];
    const rng = new Rng(42);
    for (let n = 0; n < 300; n++) {
      const len = 1 + Math.floor(rng.next() * 14);
      const text = Array.from({ length: len }, () => words[Math.floor(rng.next() * words.length)]).join(' ');
      const fromMarks = parsedObjects(text).map((o) => o.name);
      const fromParser = parseDescription(text).objects.map((o) => `${o.color} ${o.shape}`);
      expect(fromMarks, text).toEqual(fromParser);
      expect([...new Set(fromMarks)]).toEqual(mentionedKeys(parseDescription(text)));
    }
  });
});

describe('markedHtml', () => {
  it('wraps marks in <mark> with one class per kind and escapes the rest', () => {
    const answer = 'a red circle & a <blue> bar.';
    const { marks } = markAnswer('a red circle and a blue bar.', ['red circle']);
    expect(markedHtml('a red circle and a blue bar.', marks)).toBe(
      'a <mark class="ok" title="red circle: in the image">red circle</mark> and a <mark class="hal" title="blue bar: not in the image">blue bar</mark>.',
    );
    expect(markedHtml(answer, [])).toBe(escapeHtml(answer));
    expect(markedHtml(answer, [])).toBe('a red circle &amp; a &lt;blue&gt; bar.');
  });

  it('ignores marks that overlap or fall outside the answer', () => {
    const html = markedHtml('a red circle.', [
      { object: 'red circle', start: 2, end: 12, kind: 'correct' },
      { object: 'x', start: 5, end: 8, kind: 'hallucinated' },
      { object: 'y', start: 10, end: 99, kind: 'hallucinated' },
    ]);
    expect(html).toBe('a <mark class="ok" title="red circle: in the image">red circle</mark>.');
  });
});
