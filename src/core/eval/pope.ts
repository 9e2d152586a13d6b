/**
 * POPE (Li et al. 2023): "Is there a {object} in the image?" with present objects (label yes)
 * and absent ones (label no), in three settings that differ only in which absent objects are
 * asked about: random, popular (most frequent in the data) and adversarial (those that most
 * often co-occur with what is present). Positive class: "yes".
 */
import type { Rng } from '../rng';

export type PopeSetting = 'random' | 'popular' | 'adversarial';
export const POPE_SETTINGS: readonly PopeSetting[] = ['random', 'popular', 'adversarial'];

export interface PopeQuestion {
  object: string;
  label: 'yes' | 'no';
}

export interface PopeSampleInput {
  present: readonly string[];
  /**
   * Absent candidates. For "random" any order (one is drawn uniformly at a time); for
   * "popular" and "adversarial", ranked best first, and the top ones are asked.
   */
  absent: readonly string[];
  setting: PopeSetting;
  rng: Rng;
  /** Questions per class (default 3). */
  perClass?: number;
}

/**
 * perClass present and perClass absent questions, or fewer of each when the image holds fewer
 * objects: both classes get the same count, so yes-ratio 0.5 is always the truthful answer.
 */
export function samplePopeQuestions(input: PopeSampleInput): PopeQuestion[] {
  const perClass = input.perClass ?? 3;
  if (!Number.isInteger(perClass) || perClass <= 0) throw new Error(`Expected perClass to be a positive integer, but got ${perClass}`);
  const present = [...new Set(input.present)];
  const presentSet = new Set(present);
  const absent = [...new Set(input.absent)].filter((a) => !presentSet.has(a));
  const k = Math.min(perClass, present.length, absent.length);
  const yes = input.rng.shuffle([...present]).slice(0, k);
  const no = input.setting === 'random' ? input.rng.shuffle([...absent]).slice(0, k) : absent.slice(0, k);
  return [...yes.map((object) => ({ object, label: 'yes' as const })), ...no.map((object) => ({ object, label: 'no' as const }))];
}

/** How often each object appears, over a list of per-image object lists. */
export function objectFrequencies(images: readonly (readonly string[])[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const objects of images) for (const o of new Set(objects)) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

/** Candidates by descending frequency; ties (and unseen objects) in the given order. */
export function rankByFrequency(candidates: readonly string[], frequencies: ReadonlyMap<string, number>): string[] {
  return candidates
    .map((c, i) => ({ c, i, f: frequencies.get(c) ?? 0 }))
    .sort((a, b) => b.f - a.f || a.i - b.i)
    .map((x) => x.c);
}

/** Pair counts: how many images hold both a and b (a != b). */
export function cooccurrenceCounts(images: readonly (readonly string[])[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const objects of images) {
    const set = [...new Set(objects)];
    for (const a of set) {
      const row = out.get(a) ?? new Map<string, number>();
      for (const b of set) if (b !== a) row.set(b, (row.get(b) ?? 0) + 1);
      out.set(a, row);
    }
  }
  return out;
}

/** Candidates by their summed co-occurrence with the present objects (POPE adversarial). */
export function rankByCooccurrence(
  candidates: readonly string[],
  present: readonly string[],
  counts: ReadonlyMap<string, ReadonlyMap<string, number>>,
): string[] {
  const score = (c: string): number => present.reduce((s, p) => s + (counts.get(p)?.get(c) ?? 0), 0);
  return candidates
    .map((c, i) => ({ c, i, s: score(c) }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.c);
}

/**
 * POPE's rule, kept verbatim so numbers compare with the literature: the answer is "no" if
 * its first sentence contains the word "no" or "not" (any case), else "yes".
 */
export function parsePopeAnswer(text: string): 'yes' | 'no' {
  const words: string[] = text.split('.')[0].toLowerCase().match(/[a-z]+/g) ?? [];
  return words.includes('no') || words.includes('not') ? 'no' : 'yes';
}

export interface PopeItem {
  label: 'yes' | 'no';
  /** The parsed answer (parsePopeAnswer). */
  answer: 'yes' | 'no';
}

export interface PopeReport {
  questions: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  /** Share of "yes" answers; 0.5 is truthful on POPE's balanced questions. */
  yesRatio: number;
}

export function popeMetrics(items: readonly PopeItem[]): PopeReport {
  if (items.length === 0) throw new Error('Expected at least one POPE answer to score, but got none');
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (const { label, answer } of items) {
    if (answer === 'yes' && label === 'yes') tp++;
    else if (answer === 'yes') fp++;
    else if (label === 'no') tn++;
    else fn++;
  }
  const n = items.length;
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { questions: n, accuracy: (tp + tn) / n, precision, recall, f1, yesRatio: (tp + fp) / n };
}
