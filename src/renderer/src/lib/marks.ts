/**
 * Splits an answer into spans for display: objects marked hallucinated or correct where the
 * image has annotations; objects only parsed (no annotations) stay neutral.
 */
import type { HallucinationMark, OutputRow, ParsedObject } from '../../../shared/api';

export type SpanKind = 'plain' | 'correct' | 'hallucinated' | 'object';

export interface Span {
  text: string;
  kind: SpanKind;
  /** The object name for marked spans. */
  object?: string;
}

interface Range {
  start: number;
  end: number;
  kind: SpanKind;
  object: string;
}

export function answerSpans(answer: string, marks: HallucinationMark[] | null, objects: ParsedObject[] = []): Span[] {
  const ranges: Range[] = marks
    ? marks.map((m) => ({ start: m.start, end: m.end, kind: m.kind, object: m.object }))
    : objects.map((o) => ({ start: o.start, end: o.end, kind: 'object' as const, object: o.name }));
  const valid = ranges
    .filter((r) => Number.isInteger(r.start) && Number.isInteger(r.end) && r.start >= 0 && r.end > r.start && r.end <= answer.length)
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const spans: Span[] = [];
  let at = 0;
  for (const r of valid) {
    if (r.start < at) continue; // overlapping mark: the earlier, longer one wins
    if (r.start > at) spans.push({ text: answer.slice(at, r.start), kind: 'plain' });
    spans.push({ text: answer.slice(r.start, r.end), kind: r.kind, object: r.object });
    at = r.end;
  }
  if (at < answer.length) spans.push({ text: answer.slice(at), kind: 'plain' });
  return spans;
}

export function isHallucinated(row: Pick<OutputRow, 'marks'> | null | undefined): boolean {
  return Boolean(row?.marks?.some((m) => m.kind === 'hallucinated'));
}

export function hallucinatedObjects(row: Pick<OutputRow, 'marks'> | null | undefined): string[] {
  return row?.marks?.filter((m) => m.kind === 'hallucinated').map((m) => m.object) ?? [];
}

/** Two answers disagree when their text differs (after trimming and case). */
export function disagree(a: Pick<OutputRow, 'answer'> | null | undefined, b: Pick<OutputRow, 'answer'> | null | undefined): boolean {
  const norm = (s: string | undefined) => (s ?? '').trim().toLowerCase();
  return norm(a?.answer) !== norm(b?.answer);
}

export interface OutputPair {
  key: string;
  question: string;
  a: OutputRow | null;
  b: OutputRow | null;
}

/**
 * Joins two runs' outputs on (image, question), in the order of the first run. When the two
 * share no image reference at all (each evaluation stores its own copy of the scene, so refs
 * are per output), answers are paired by their order within each question instead: both runs
 * of a pair are evaluated on the same seeded held-out scenes, in the same order.
 */
export function pairOutputs(a: OutputRow[], b: OutputRow[]): OutputPair[] {
  const imageKey = (r: OutputRow) => `${r.image}\u0000${r.question}`;
  const imagesA = new Set(a.map(imageKey));
  const shared = b.some((r) => imagesA.has(imageKey(r)));
  let keyOf = imageKey;
  if (!shared && a.length && b.length) {
    const ordinal = new Map<OutputRow, number>();
    for (const rows of [a, b]) {
      const seen = new Map<string, number>();
      for (const r of rows) {
        const n = seen.get(r.question) ?? 0;
        ordinal.set(r, n);
        seen.set(r.question, n + 1);
      }
    }
    keyOf = (r) => `#${ordinal.get(r)}\u0000${r.question}`;
  }
  const byKey = new Map<string, OutputPair>();
  for (const r of a) byKey.set(keyOf(r), { key: keyOf(r), question: r.question, a: r, b: null });
  for (const r of b) {
    const p = byKey.get(keyOf(r));
    if (p) p.b = r;
    else byKey.set(keyOf(r), { key: keyOf(r), question: r.question, a: null, b: r });
  }
  return [...byKey.values()];
}

export interface PairFilter {
  onlyDisagreements: boolean;
  onlyHallucinations: boolean;
}

export function filterPairs(pairs: OutputPair[], filter: PairFilter): OutputPair[] {
  return pairs.filter(
    (p) =>
      (!filter.onlyDisagreements || disagree(p.a, p.b)) &&
      (!filter.onlyHallucinations || isHallucinated(p.a) || isHallucinated(p.b)),
  );
}
