/**
 * Contract types for hallucination inspection on the user's own data (issue 17): evaluation
 * sets, answer jobs, automatic scores, human judgments and their tallies. Types only; re-exported
 * by ./api, which names the channels.
 */
import type { DataIssue } from './validation';

/** Ground truth of one item: a POPE-style yes/no label, the objects present, or none. */
export type ItemTruth = { kind: 'yesno'; label: 'yes' | 'no' } | { kind: 'objects'; objects: string[] } | null;

/** Valid items of a probe set by ground truth: yes/no label, object list, none. */
export interface ProbeKinds {
  yesno: number;
  objects: number;
  none: number;
}

export interface EvalSetSummary {
  id: number;
  name: string;
  /** probe: imported images + questions; holdout: the records a run held out of its dataset. */
  kind: 'probe' | 'holdout';
  sourcePath: string;
  createdAt: string;
  /** Valid items (what answers are generated for). */
  items: number;
  /** Items by ground truth. */
  kinds: ProbeKinds;
  /** The run whose held-out records these are (holdout sets). */
  runId: number | null;
  counts: { records: number; errors: number; warnings: number };
}

/** The probe importer's report (same issue shape and codes as datasets'). */
export interface EvalSetReport {
  root: string;
  format: string | null;
  files: string[];
  excluded: number[];
  issues: DataIssue[];
  createdAt: string;
}

export interface EvalSetDetail extends EvalSetSummary {
  report: EvalSetReport | null;
}

export interface EvalItem {
  id: number;
  setId: number;
  index: number;
  /** The record's own id (question_id / id), or `${file}#${index}`. */
  key: string;
  /** For images:get (`evalitem:<id>`). */
  image: string;
  question: string;
  truth: ItemTruth;
  /** Held-out preference records keep their pair for reference. */
  reference: { chosen: string; rejected: string } | null;
}

/** A model that answers: the base checkpoint alone, or a completed run (base + its adapter). */
export type ModelRef = { kind: 'base'; runId: number } | { kind: 'run'; runId: number };

/** How answers are generated: greedy by default; sampling with a seed as an option. */
export interface GenerationSettings {
  maxTokens: number;
  temperature: number;
  /** Used only when temperature > 0. */
  seed: number;
}

export type AnswerJobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'interrupted';

export interface AnswerJob {
  id: number;
  setId: number;
  /** 'base:<runId>' (that run's base model, no adapter) or 'run:<runId>'. */
  modelKey: string;
  /** Display name of the model. */
  modelLabel: string;
  /** sha256 over the base checkpoint's files, and over the adapter's (null for a base model). */
  modelFingerprint: string;
  adapterFingerprint: string | null;
  settings: GenerationSettings;
  status: AnswerJobStatus;
  done: number;
  total: number;
  /** Answers taken from the store instead of generated (nothing had changed). */
  reused: number;
  etaMs: number | null;
  createdAt: string;
  finishedAt: string | null;
  error: { name: string; message: string } | null;
}

/** A mark on an answer: a span the automatic scorer or a person marked. */
export interface AnswerMark {
  start: number;
  end: number;
  /** The category (automatic) or the marked text (human). */
  object: string;
  kind: 'correct' | 'hallucinated';
}

export interface HumanMark {
  id: number;
  start: number;
  end: number;
  text: string;
}

export interface ItemAnswer {
  answerId: number;
  modelKey: string;
  text: string;
  /** Automatic marks (object-annotated items), null where the item has no object list. */
  autoMarks: AnswerMark[] | null;
  /** Yes/no items: the parsed answer and whether it matches the label. */
  yesNo: { parsed: 'yes' | 'no'; correct: boolean } | null;
  humanMarks: HumanMark[];
}

export type Verdict = 'a' | 'b' | 'tie' | 'both-wrong';

export interface InspectItem extends EvalItem {
  a: ItemAnswer | null;
  b: ItemAnswer | null;
  verdict: Verdict | null;
  note: string;
}

/** Hallucination rate with its 95% Wilson interval. */
export interface RateWithInterval {
  k: number;
  n: number;
  rate: number;
  low: number;
  high: number;
}

export interface InspectTallies {
  /** Items with answers from both models. */
  items: number;
  /** Items with a verdict. */
  judged: number;
  left: number;
  /** Per model: answers (of judged items) with at least one human hallucination mark. */
  humanRate: { a: RateWithInterval; b: RateWithInterval };
  verdicts: Record<Verdict, number>;
  /** A better vs B better, ties and both-wrong left out; two-sided exact sign test. */
  signTest: { wins: number; losses: number; p: number };
}

/** Automatic scores of one model on one set (where ground truth exists). */
export interface AutoScores {
  modelKey: string;
  pope: { questions: number; accuracy: number; precision: number; recall: number; f1: number; yesRatio: number } | null;
  chair: { answers: number; chairS: number; chairI: number; cover: number; mentions: number; hallucinatedMentions: number } | null;
}

export interface InspectPage {
  setId: number;
  modelA: string;
  modelB: string;
  items: InspectItem[];
  total: number;
  offset: number;
  tallies: InspectTallies;
  scores: AutoScores[];
}
