/**
 * Preference pairs by sampling then judging against the exact ground truth (docs/world.md#preference-pairs, built
 * like Silkie/VLFeedback but with a perfect judge). Answers are ranked by
 *   0. well-formed first (no unparsed fragment, at least one object: measured on the shipped
 *      base, an empty sample otherwise won as "chosen" for having 0 hallucinations),
 *   1. fewer hallucinated objects, 2. more ground-truth objects covered, 3. fewer unparsed
 *      fragments;
 * chosen = best, rejected = worst. When best and worst rank equal, there is no preference to
 * learn and the scene is dropped. Every decision records why, for the inspector and the report.
 */
import { judgeCase } from '../eval/chair';
import { parsePopeAnswer } from '../eval/pope';
import { mentionedKeys, parseDescription } from './grammar';

export interface AnswerScore {
  answer: string;
  hallucinated: string[];
  covered: string[];
  unparsed: string[];
}

export type PairDecision =
  | { kept: true; chosen: string; rejected: string; chosenScore: AnswerScore; rejectedScore: AnswerScore; why: string }
  | { kept: false; why: string };

export function scoreDescription(answer: string, truth: readonly string[]): AnswerScore {
  const parsed = parseDescription(answer);
  const j = judgeCase({ mentioned: mentionedKeys(parsed), truth });
  return { answer, hallucinated: j.hallucinated, covered: j.covered, unparsed: parsed.unparsed };
}

/** Empty, or holding text outside the grammar: never worth teaching as "chosen". */
function malformed(s: AnswerScore): number {
  return s.unparsed.length > 0 || s.hallucinated.length + s.covered.length === 0 ? 1 : 0;
}

/** Negative when a ranks before (is better than) b. */
function compare(a: AnswerScore, b: AnswerScore): number {
  return (
    malformed(a) - malformed(b) ||
    a.hallucinated.length - b.hallucinated.length ||
    b.covered.length - a.covered.length ||
    a.unparsed.length - b.unparsed.length
  );
}

function describeScore(s: AnswerScore, truthCount: number): string {
  const parts = [`${s.hallucinated.length} hallucinated${s.hallucinated.length ? ` (${s.hallucinated.join(', ')})` : ''}`];
  parts.push(`covers ${s.covered.length}/${truthCount}`);
  if (s.unparsed.length) parts.push(`${s.unparsed.length} unparsed (${s.unparsed.map((u) => JSON.stringify(u)).join(', ')})`);
  return parts.join(', ');
}

/** Best and worst of several sampled descriptions of one image, or why there is no pair. */
export function judgeDescriptions(truth: readonly string[], all: readonly string[]): PairDecision {
  // Empty samples teach nothing either way, and dataset validation rejects empty fields.
  const answers = all.filter((a) => a.trim() !== '');
  if (answers.length < 2) return { kept: false, why: `needs at least 2 non-empty samples, got ${answers.length} of ${all.length}` };
  // Stable sort: among equals the earliest sample wins, so the result is deterministic.
  const ranked = answers.map((a) => scoreDescription(a, truth)).sort(compare);
  const best = ranked[0];
  const worst = ranked[ranked.length - 1];
  if (compare(best, worst) === 0) return { kept: false, why: `all ${answers.length} samples tie: ${describeScore(best, truth.length)}` };
  return {
    kept: true,
    chosen: best.answer,
    rejected: worst.answer,
    chosenScore: best,
    rejectedScore: worst,
    why: `chosen: ${describeScore(best, truth.length)}; rejected: ${describeScore(worst, truth.length)}`,
  };
}

/** A yes/no question: chosen = a correct sample, rejected = a wrong one, if both occur. */
export function judgeYesNo(label: 'yes' | 'no', all: readonly string[]): PairDecision {
  const answers = all.filter((a) => a.trim() !== '');
  const right = answers.find((a) => parsePopeAnswer(a) === label);
  const wrong = answers.find((a) => parsePopeAnswer(a) !== label);
  if (right === undefined || wrong === undefined) {
    return { kept: false, why: `all ${answers.length} samples answer ${right === undefined ? 'wrongly' : 'correctly'} (truth: ${label})` };
  }
  const empty = { hallucinated: [], covered: [], unparsed: [] };
  return {
    kept: true,
    chosen: right,
    rejected: wrong,
    chosenScore: { answer: right, ...empty },
    rejectedScore: { answer: wrong, ...empty },
    why: `truth is "${label}"; rejected answers "${parsePopeAnswer(wrong)}"`,
  };
}
