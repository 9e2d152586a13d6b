/**
 * What the Inspect screen shows for one set and two models: every item with both answers,
 * automatic marks (object-annotated items) and yes/no checks (POPE items), the person's span
 * marks and verdict; the live tallies (human hallucination rate per model with a 95% Wilson
 * interval, the A-vs-B sign test, judged and left); and the automatic scores per model.
 *
 * Definitions (also in the UI's help text):
 * - an answer is humanly hallucinated when it has at least one span marked by the person;
 *   the rate counts the answers of items that have a verdict (judged items);
 * - the sign test counts "A better" as a win and "B better" as a loss; tie and both-wrong carry
 *   no direction and are left out.
 */
import { parsePopeAnswer } from '../../core/eval/pope';
import type { SynonymTable } from '../../core/eval/probe-mentions';
import { judgeObjectAnswer, probeChairMetrics, probePopeMetrics, tableForAnnotations } from '../../core/eval/probe-score';
import { signTest, wilsonInterval } from '../../core/eval/probe-stats';
import type { AutoScores, EvalItem, InspectItem, InspectTallies, ItemAnswer, RateWithInterval, Verdict } from '../../shared/inspect';
import type { InspectStore, StoredAnswer } from '../store/inspect';

export interface Side {
  modelKey: string;
  answers: Map<number, StoredAnswer>;
}

/** The answers of a model on a set: those of its newest job's key (none when it never ran). */
export function sideOf(inspect: InspectStore, setId: number, modelKey: string): Side {
  const job = inspect.latestJob(setId, modelKey);
  return { modelKey, answers: job ? inspect.answers(setId, job.answerKey) : new Map() };
}

export function setTable(items: readonly EvalItem[]): SynonymTable {
  return tableForAnnotations(items.flatMap((i) => (i.truth?.kind === 'objects' ? [i.truth.objects] : [])));
}

function itemAnswer(item: EvalItem, a: StoredAnswer | undefined, table: SynonymTable, marks: ReturnType<InspectStore['marks']>, modelKey: string): ItemAnswer | null {
  if (!a) return null;
  const t = item.truth;
  return {
    answerId: a.answerId,
    modelKey,
    text: a.text,
    autoMarks: t?.kind === 'objects' ? judgeObjectAnswer(a.text, t.objects, table).marks : null,
    yesNo: t?.kind === 'yesno' ? { parsed: parsePopeAnswer(a.text), correct: parsePopeAnswer(a.text) === t.label } : null,
    humanMarks: marks.get(a.answerId) ?? [],
  };
}

const rate = (k: number, n: number): RateWithInterval => {
  const w = wilsonInterval(k, n);
  return { k, n, rate: w.estimate, low: w.low, high: w.high };
};

/** Tallies over every item of the set that both models answered. */
export function tallies(items: readonly EvalItem[], a: Side, b: Side, inspect: InspectStore, setId: number): InspectTallies {
  const both = items.filter((i) => a.answers.has(i.id) && b.answers.has(i.id));
  const verdicts = new Map(inspect.verdicts(setId).map((v) => [`${v.answerA}:${v.answerB}`, v]));
  const ids = both.flatMap((i) => [a.answers.get(i.id)!.answerId, b.answers.get(i.id)!.answerId]);
  const marks = inspect.marks(ids);
  const count: Record<Verdict, number> = { a: 0, b: 0, tie: 0, 'both-wrong': 0 };
  let judged = 0;
  let hallA = 0;
  let hallB = 0;
  for (const i of both) {
    const ia = a.answers.get(i.id)!.answerId;
    const ib = b.answers.get(i.id)!.answerId;
    const v = verdicts.get(`${ia}:${ib}`)?.verdict ?? null;
    if (v === null) continue;
    judged++;
    count[v]++;
    if ((marks.get(ia) ?? []).length > 0) hallA++;
    if ((marks.get(ib) ?? []).length > 0) hallB++;
  }
  const s = signTest(count.a, count.b);
  return {
    items: both.length,
    judged,
    left: both.length - judged,
    humanRate: { a: rate(hallA, judged), b: rate(hallB, judged) },
    verdicts: count,
    signTest: { wins: s.wins, losses: s.losses, p: s.p },
  };
}

/** Automatic scores of one model where the set has ground truth. */
export function autoScores(items: readonly EvalItem[], side: Side, table: SynonymTable): AutoScores {
  const yesno = items.flatMap((i) => (i.truth?.kind === 'yesno' && side.answers.has(i.id) ? [{ answer: side.answers.get(i.id)!.text, label: i.truth.label }] : []));
  const objects = items.flatMap((i) => (i.truth?.kind === 'objects' && side.answers.has(i.id) ? [{ answer: side.answers.get(i.id)!.text, objects: i.truth.objects }] : []));
  const chair = objects.length ? probeChairMetrics(objects, table) : null;
  return {
    modelKey: side.modelKey,
    pope: yesno.length ? probePopeMetrics(yesno) : null,
    chair: chair && { answers: chair.answers, chairS: chair.chairS, chairI: chair.chairI, cover: chair.cover, mentions: chair.mentions, hallucinatedMentions: chair.hallucinatedMentions },
  };
}

/** Items [offset, offset + limit) with both sides, verdicts and marks. */
export function inspectItems(items: readonly EvalItem[], a: Side, b: Side, inspect: InspectStore, setId: number, table: SynonymTable): InspectItem[] {
  const ids = items.flatMap((i) => [a.answers.get(i.id)?.answerId, b.answers.get(i.id)?.answerId]).filter((x): x is number => x !== undefined);
  const marks = inspect.marks(ids);
  const verdicts = new Map(inspect.verdicts(setId).map((v) => [`${v.answerA}:${v.answerB}`, v]));
  return items.map((item) => {
    const { imageRef: _r, ...plain } = item as EvalItem & { imageRef?: unknown };
    const ia = itemAnswer(item, a.answers.get(item.id), table, marks, a.modelKey);
    const ib = itemAnswer(item, b.answers.get(item.id), table, marks, b.modelKey);
    const v = ia && ib ? verdicts.get(`${ia.answerId}:${ib.answerId}`) : undefined;
    return { ...plain, a: ia, b: ib, verdict: v?.verdict ?? null, note: v?.note ?? '' };
  });
}
