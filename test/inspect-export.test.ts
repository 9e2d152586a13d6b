/** Which answer becomes chosen, and the judgments' CSV/JSONL, on hand-made items. */
import { describe, expect, it } from 'vitest';
import { judgmentsText, pairOf } from '../src/main/inspect/export';
import type { InspectItem, ItemAnswer, Verdict } from '../src/shared/inspect';

const ans = (text: string, marks: number, modelKey = 'run:1'): ItemAnswer => ({
  answerId: 1,
  modelKey,
  text,
  autoMarks: null,
  yesNo: null,
  humanMarks: Array.from({ length: marks }, (_, i) => ({ id: i + 1, start: 0, end: 1, text: text.slice(0, 1) })),
});
const item = (a: ItemAnswer | null, b: ItemAnswer | null, verdict: Verdict | null, note = ''): InspectItem => ({
  id: 1, setId: 1, index: 0, key: 'q1', image: 'evalitem:1', question: 'Is there a "dog", really?', truth: { kind: 'yesno', label: 'yes' }, reference: null, a, b, verdict, note,
});

describe('pairOf', () => {
  it('follows the verdict, else prefers the unmarked answer, else gives no pair', () => {
    expect(pairOf(item(ans('A text', 0), ans('B text', 0), 'a'))).toEqual({ chosen: 'A text', rejected: 'B text', why: 'verdict' });
    expect(pairOf(item(ans('A text', 2), ans('B text', 0), 'b'))).toEqual({ chosen: 'B text', rejected: 'A text', why: 'verdict' });
    expect(pairOf(item(ans('A text', 1), ans('B text', 0), 'tie'))).toEqual({ chosen: 'B text', rejected: 'A text', why: 'marks' });
    expect(pairOf(item(ans('A text', 0), ans('B text', 3), 'both-wrong'))).toEqual({ chosen: 'A text', rejected: 'B text', why: 'marks' });
    expect(pairOf(item(ans('A text', 0), ans('B text', 1), null))).toEqual({ chosen: 'A text', rejected: 'B text', why: 'marks' });
    expect(pairOf(item(ans('A text', 1), ans('B text', 1), 'tie'))).toBeNull();
    expect(pairOf(item(ans('A text', 0), ans('B text', 0), null))).toBeNull();
  });

  it('never pairs identical or empty answers, or an item missing an answer', () => {
    expect(pairOf(item(ans('same', 0), ans(' same ', 0), 'a'))).toBeNull();
    expect(pairOf(item(ans('', 0), ans('B', 0), 'b'))).toBeNull();
    expect(pairOf(item(ans('A', 0), null, 'a'))).toBeNull();
  });
});

describe('judgmentsText', () => {
  const items = [item(ans('Yes, a dog.', 1), ans('No "dog".', 0, 'run:2'), 'b', 'A says, "yes"'), item(ans('x', 0), ans('y', 0), null)];

  it('CSV: a header, every field quoted, quotes doubled; unjudged items left out', () => {
    const { text, rows } = judgmentsText(items, 'csv');
    expect(rows).toBe(1);
    expect(text).toBe(
      'item,question,truth,model_a,answer_a,marks_a,model_b,answer_b,marks_b,verdict,note\r\n' +
        '"q1","Is there a ""dog"", really?","yes","run:1","Yes, a dog.","Y","run:2","No ""dog"".","","b","A says, ""yes"""\r\n',
    );
  });

  it('JSONL keeps the marks as spans', () => {
    const { text } = judgmentsText(items, 'jsonl');
    const row = JSON.parse(text.trim()) as { marks_a: unknown; verdict: string };
    expect(row.verdict).toBe('b');
    expect(row.marks_a).toEqual([{ id: 1, start: 0, end: 1, text: 'Y' }]);
  });
});
