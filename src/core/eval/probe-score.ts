/**
 * Scores for answers on the user's own probe sets (not the built-in world):
 * - POPE-style yes/no items: accuracy, precision, recall, F1, yes-ratio (pope.ts's rule and
 *   metrics, so numbers compare with the world's and the literature's);
 * - object-annotated items: CHAIR_s, CHAIR_i and Cover over the mentions found by
 *   probe-mentions.ts, with every mention marked correct or hallucinated.
 *
 * CHAIR_i here counts every mention (the standard definition: "two dogs ... the dog" with no
 * dog in the image is two hallucinated mentions); Cover counts each annotated object once.
 */
import { parsePopeAnswer, popeMetrics, type PopeReport } from './pope';
import { buildSynonymTable, categoryOf, cocoTable, findMentions, type Mention, type SynonymTable } from './probe-mentions';

/** A mention marked against the annotation (same shape as the world inspector's marks). */
export interface MentionMark extends Mention {
  kind: 'correct' | 'hallucinated';
}

export interface ObjectJudgement {
  marks: MentionMark[];
  /** Distinct hallucinated / covered categories, in order of first mention. */
  hallucinated: string[];
  covered: string[];
  /** Annotated categories the answer does not mention. */
  missed: string[];
}

/** Annotated object names -> their categories (names outside the vocabulary stay as written, lower case). */
export function truthCategories(objects: readonly string[], table: SynonymTable): string[] {
  return [...new Set(objects.map((o) => categoryOf(o, table) ?? o.trim().toLowerCase()))];
}

/**
 * A vocabulary for a whole object-annotated set: COCO plus every annotated name that is not
 * a COCO word, so the user's own labels ("forklift") are found in answers too.
 */
export function tableForAnnotations(annotations: readonly (readonly string[])[]): SynonymTable {
  const coco = cocoTable();
  const extra = [...new Set(annotations.flat().map((o) => o.trim().toLowerCase()))].filter((o) => categoryOf(o, coco) === null);
  return extra.length === 0 ? coco : buildSynonymTable(undefined, extra);
}

export function judgeObjectAnswer(answer: string, objects: readonly string[], table: SynonymTable = cocoTable()): ObjectJudgement {
  const truth = truthCategories(objects, table);
  const present = new Set(truth);
  const marks: MentionMark[] = findMentions(answer, table).map((m) => ({ ...m, kind: present.has(m.object) ? 'correct' : 'hallucinated' }));
  const hallucinated = [...new Set(marks.filter((m) => m.kind === 'hallucinated').map((m) => m.object))];
  const covered = [...new Set(marks.filter((m) => m.kind === 'correct').map((m) => m.object))];
  const said = new Set(covered);
  return { marks, hallucinated, covered, missed: truth.filter((t) => !said.has(t)) };
}

export interface ObjectCase {
  answer: string;
  /** Objects annotated as present in the image (any vocabulary word). */
  objects: readonly string[];
}

export interface ProbeChairReport {
  answers: number;
  /** Answers with at least one hallucinated mention / answers. */
  chairS: number;
  /** Hallucinated mentions / all mentions, every mention counted (0 when nothing is mentioned). */
  chairI: number;
  /** Annotated objects mentioned / annotated objects, each counted once per item. */
  cover: number;
  mentions: number;
  hallucinatedMentions: number;
  truthObjects: number;
  coveredObjects: number;
}

export function probeChairMetrics(cases: readonly ObjectCase[], table: SynonymTable = tableForAnnotations(cases.map((c) => c.objects))): ProbeChairReport {
  if (cases.length === 0) throw new Error('Expected at least one answer to score, but got none');
  let mentions = 0;
  let hallucinatedMentions = 0;
  let withHallucination = 0;
  let truthObjects = 0;
  let coveredObjects = 0;
  for (const c of cases) {
    const j = judgeObjectAnswer(c.answer, c.objects, table);
    mentions += j.marks.length;
    const h = j.marks.filter((m) => m.kind === 'hallucinated').length;
    hallucinatedMentions += h;
    if (h > 0) withHallucination++;
    truthObjects += j.covered.length + j.missed.length;
    coveredObjects += j.covered.length;
  }
  return {
    answers: cases.length,
    chairS: withHallucination / cases.length,
    chairI: mentions === 0 ? 0 : hallucinatedMentions / mentions,
    cover: truthObjects === 0 ? 0 : coveredObjects / truthObjects,
    mentions,
    hallucinatedMentions,
    truthObjects,
    coveredObjects,
  };
}

export interface YesNoCase {
  answer: string;
  label: 'yes' | 'no';
}

/** POPE metrics of free-text answers to yes/no items (POPE's parsing rule). */
export function probePopeMetrics(cases: readonly YesNoCase[]): PopeReport {
  return popeMetrics(cases.map((c) => ({ label: c.label, answer: parsePopeAnswer(c.answer) })));
}

/** Whether one yes/no answer agrees with its label. */
export function yesNoCorrect(c: YesNoCase): boolean {
  return parsePopeAnswer(c.answer) === c.label;
}
