import { describe, expect, it } from 'vitest';
import type { OutputRow } from '../../../shared/api';
import { answerSpans, disagree, filterPairs, pairOutputs } from './marks';

const answer = 'a red circle, a blue square and a green cross.';
// "red circle" 2..12, "blue square" 16..27, "green cross" 34..45
const marks = [
  { object: 'red circle', start: 2, end: 12, kind: 'correct' as const },
  { object: 'blue square', start: 16, end: 27, kind: 'hallucinated' as const },
  { object: 'green cross', start: 34, end: 45, kind: 'correct' as const },
];

function row(id: number, runId: number, image: string, text: string, hallucinated: boolean | null): OutputRow {
  return {
    id,
    runId,
    image,
    question: 'Describe the image.',
    answer: text,
    objects: [],
    marks: hallucinated == null ? null : [{ object: 'x', start: 0, end: 1, kind: hallucinated ? 'hallucinated' : 'correct' }],
  };
}

describe('answerSpans', () => {
  it('splits the answer into plain text and marked objects, in order', () => {
    const spans = answerSpans(answer, marks);
    expect(spans.map((s) => s.text).join('')).toBe(answer);
    expect(spans.filter((s) => s.kind !== 'plain')).toEqual([
      { text: 'red circle', kind: 'correct', object: 'red circle' },
      { text: 'blue square', kind: 'hallucinated', object: 'blue square' },
      { text: 'green cross', kind: 'correct', object: 'green cross' },
    ]);
  });

  it('without annotations, parsed objects are neutral (neither correct nor hallucinated)', () => {
    const spans = answerSpans(answer, null, [{ name: 'red circle', start: 2, end: 12 }]);
    expect(spans.find((s) => s.kind !== 'plain')).toEqual({ text: 'red circle', kind: 'object', object: 'red circle' });
  });

  it('ignores spans outside the answer and overlapping ones', () => {
    const spans = answerSpans('a red circle.', [
      { object: 'red circle', start: 2, end: 12, kind: 'correct' },
      { object: 'circle', start: 6, end: 12, kind: 'hallucinated' },
      { object: 'ghost', start: 20, end: 30, kind: 'hallucinated' },
    ]);
    expect(spans.filter((s) => s.kind !== 'plain').map((s) => s.object)).toEqual(['red circle']);
    expect(spans.map((s) => s.text).join('')).toBe('a red circle.');
  });
});

describe('pairing and filters', () => {
  const a = [row(1, 1, 's1', 'a red circle.', false), row(2, 1, 's2', 'a blue square.', true), row(3, 1, 's3', 'a cross.', null)];
  const b = [row(11, 2, 's1', 'a red circle.', false), row(12, 2, 's2', 'a green square.', false), row(13, 2, 's4', 'x', null)];
  const pairs = pairOutputs(a, b);

  it('joins the two runs on image and question', () => {
    expect(pairs.map((p) => [p.a?.id ?? null, p.b?.id ?? null])).toEqual([[1, 11], [2, 12], [3, null], [null, 13]]);
  });

  it('pairs by order within a question when the runs share no image reference', () => {
    const x = [row(1, 1, 'output:1', 'p', false), row(2, 1, 'output:2', 'q', false)];
    const y = [row(11, 2, 'output:11', 'p', false), row(12, 2, 'output:12', 'r', false)];
    expect(pairOutputs(x, y).map((p) => [p.a?.id, p.b?.id])).toEqual([[1, 11], [2, 12]]);
  });

  it('only disagreements keeps pairs whose answers differ', () => {
    expect(disagree(a[0], b[0])).toBe(false);
    expect(filterPairs(pairs, { onlyDisagreements: true, onlyHallucinations: false }).map((p) => p.a?.id ?? null)).toEqual([2, 3, null]);
  });

  it('only hallucinations keeps pairs where either answer hallucinates', () => {
    expect(filterPairs(pairs, { onlyDisagreements: false, onlyHallucinations: true }).map((p) => p.a?.id)).toEqual([2]);
  });
});
