import { describe, expect, it } from 'vitest';
import { judgeDescriptions, judgeYesNo, scoreDescription } from './judge';

const truth = ['red circle', 'blue square', 'green cross'];

describe('judgeDescriptions', () => {
  it('prefers fewer hallucinations over more coverage (hand-worked)', () => {
    const answers = [
      'a red circle, a blue square, a green cross and a yellow ring.', // 1 hallucinated, covers 3
      'a red circle.', // 0 hallucinated, covers 1
      'a red circle and a blue square.', // 0 hallucinated, covers 2  <- best
      'a purple bar and an orange ring.', // 2 hallucinated, covers 0 <- worst
    ];
    const d = judgeDescriptions(truth, answers);
    expect(d.kept).toBe(true);
    if (!d.kept) return;
    expect(d.chosen).toBe(answers[2]);
    expect(d.rejected).toBe(answers[3]);
    expect(d.rejectedScore.hallucinated).toEqual(['purple bar', 'orange ring']);
    expect(d.why).toBe('chosen: 0 hallucinated, covers 2/3; rejected: 2 hallucinated (purple bar, orange ring), covers 0/3');
  });

  it('breaks equal hallucination and coverage by unparsed fragments', () => {
    const d = judgeDescriptions(truth, ['a red circle and a fuzzy blob.', 'a red circle.']);
    expect(d.kept && d.chosen).toBe('a red circle.');
    expect(d.kept && d.why).toContain('1 unparsed ("a fuzzy blob")');
  });

  it('never chooses an empty or malformed answer over a well-formed one, even one that hallucinates', () => {
    const d = judgeDescriptions(truth, ['', 'a red circle and a purple bar.', 'a fuzzy blob.', '']);
    expect(d.kept && d.chosen).toBe('a red circle and a purple bar.');
    expect(d.kept && d.rejected).toBe('a fuzzy blob.');
  });

  it('drops ties and too few samples, saying why', () => {
    expect(judgeDescriptions(truth, ['a red circle.', 'a blue square.'])).toEqual({
      kept: false,
      why: 'all 2 samples tie: 0 hallucinated, covers 1/3',
    });
    expect(judgeDescriptions(truth, ['a red circle.', ' '])).toEqual({ kept: false, why: 'needs at least 2 non-empty samples, got 1 of 2' });
  });

  it('scores a sample against the truth', () => {
    expect(scoreDescription('a red circle, a red circle and a pink star.', truth)).toEqual({
      answer: 'a red circle, a red circle and a pink star.',
      hallucinated: [],
      covered: ['red circle'],
      unparsed: ['a pink star'],
    });
  });
});

describe('judgeYesNo', () => {
  it('pairs a correct sample with a wrong one', () => {
    const d = judgeYesNo('no', ['yes', 'no', 'yes']);
    expect(d).toMatchObject({ kept: true, chosen: 'no', rejected: 'yes', why: 'truth is "no"; rejected answers "yes"' });
  });

  it('drops questions every sample gets right, or every sample gets wrong', () => {
    expect(judgeYesNo('yes', ['yes', 'yes'])).toEqual({ kept: false, why: 'all 2 samples answer correctly (truth: yes)' });
    expect(judgeYesNo('yes', ['no', 'no'])).toEqual({ kept: false, why: 'all 2 samples answer wrongly (truth: yes)' });
  });
});
