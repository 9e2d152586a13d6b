/**
 * Caption hallucination metrics over object sets (docs/metrics.md):
 * CHAIR_s and CHAIR_i (Rohrbach et al. 2018), Cover, Hal and Cog (AMBER, Wang et al. 2023).
 *
 * Pure functions of strings: callers parse answers into object names first (the built-in
 * world's parser gives exact names, so no synonym list is needed). Unparsed text is not a
 * hallucination, but its share is reported so garbage cannot hide behind a low CHAIR.
 *
 * Counting follows Rohrbach et al.'s chair.py: CHAIR_i counts EVERY mention (saying "a red
 * circle" twice is two mentions, and naming an absent object twice is two hallucinated
 * mentions), CHAIR_s counts answers. Cover and Cog count distinct objects, as AMBER does.
 * AMBER's Hal (share of answers with at least one hallucinated object) is the same quantity
 * as CHAIR_s, so it is not reported separately.
 */

export interface DescriptionCase {
  /** Objects the answer mentions, one entry per mention (repeats count for CHAIR_i). */
  mentioned: readonly string[];
  /** Objects actually in the image. */
  truth: readonly string[];
  /** AMBER's "hallucination bait": absent objects a model is prone to name (for Cog). */
  bait?: readonly string[];
  /** Fragments of the answer the parser could not read. */
  unparsed?: readonly string[];
}

export interface CaseJudgement {
  /** Distinct objects, in order of first mention. */
  hallucinated: string[];
  covered: string[];
  missed: string[];
  baitMentioned: string[];
}

export interface ChairReport {
  answers: number;
  /** Answers with at least one hallucinated object / answers. */
  chairS: number;
  /** Hallucinated mentions / mentions, every mention counted (chair.py); 0 when nothing is mentioned. */
  chairI: number;
  /** Ground-truth objects mentioned / ground-truth objects (AMBER Cover). */
  cover: number;
  /** AMBER Cog: bait objects mentioned / bait objects (0 when no case has bait). */
  cog: number;
  /** Share of answers with at least one unparsed fragment. */
  unparsedShare: number;
  /** Every mention of an object, repeats included. */
  mentions: number;
  /** Every mention of an object absent from the image, repeats included. */
  hallucinatedMentions: number;
  truthObjects: number;
  coveredObjects: number;
  baitObjects: number;
  baitMentioned: number;
}

/** What one answer got right and wrong. */
export function judgeCase(c: DescriptionCase): CaseJudgement {
  const truth = new Set(c.truth);
  const mentioned = [...new Set(c.mentioned)];
  const said = new Set(mentioned);
  return {
    hallucinated: mentioned.filter((m) => !truth.has(m)),
    covered: mentioned.filter((m) => truth.has(m)),
    missed: [...new Set(c.truth)].filter((t) => !said.has(t)),
    baitMentioned: [...new Set(c.bait ?? [])].filter((b) => said.has(b)),
  };
}

const ratio = (num: number, den: number): number => (den === 0 ? 0 : num / den);

export function chairMetrics(cases: readonly DescriptionCase[]): ChairReport {
  if (cases.length === 0) throw new Error('Expected at least one answer to score, but got none');
  let mentions = 0;
  let hallucinatedMentions = 0;
  let withHallucination = 0;
  let truthObjects = 0;
  let coveredObjects = 0;
  let baitObjects = 0;
  let baitMentioned = 0;
  let withUnparsed = 0;
  for (const c of cases) {
    const j = judgeCase(c);
    const truth = new Set(c.truth);
    mentions += c.mentioned.length;
    hallucinatedMentions += c.mentioned.filter((m) => !truth.has(m)).length;
    if (j.hallucinated.length > 0) withHallucination++;
    truthObjects += new Set(c.truth).size;
    coveredObjects += j.covered.length;
    baitObjects += new Set(c.bait ?? []).size;
    baitMentioned += j.baitMentioned.length;
    if ((c.unparsed ?? []).length > 0) withUnparsed++;
  }
  const n = cases.length;
  return {
    answers: n,
    chairS: withHallucination / n,
    chairI: ratio(hallucinatedMentions, mentions),
    cover: ratio(coveredObjects, truthObjects),
    cog: ratio(baitMentioned, baitObjects),
    unparsedShare: withUnparsed / n,
    mentions,
    hallucinatedMentions,
    truthObjects,
    coveredObjects,
    baitObjects,
    baitMentioned,
  };
}
