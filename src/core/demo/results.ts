/**
 * The results of a demo or experiment: the metrics each arm is scored on, their aggregation
 * over seeds, the JSON file's schema (results.json) and the markdown table (results.md).
 */
import { z } from 'zod';
import type { EvaluationRow } from '../../shared/api';
import { POPE_SETTINGS } from '../eval/pope';
import type { RelianceReport } from '../eval/reliance';
import type { WorldEvaluation } from '../world/evaluate';

export const RESULTS_FORMAT = 'mdpo-studio/demo-results@1';

export interface MetricDef {
  key: string;
  label: string;
  /** 'down': lower is better; 'up': higher is better; 'half': closer to 0.5 is better; 'none'. */
  better: 'down' | 'up' | 'half' | 'none';
  /** Shown as a percentage (value x 100). */
  percent: boolean;
  /** The run store's evaluation row (metric, setting). */
  row: { metric: string; setting: string };
}

const pope = POPE_SETTINGS.flatMap((s): MetricDef[] => [
  { key: `pope_${s}_acc`, label: `POPE ${s} acc`, better: 'up', percent: true, row: { metric: 'POPE/accuracy', setting: s } },
  { key: `pope_${s}_f1`, label: `POPE ${s} F1`, better: 'up', percent: true, row: { metric: 'POPE/f1', setting: s } },
  { key: `pope_${s}_yes`, label: `POPE ${s} yes-ratio`, better: 'half', percent: true, row: { metric: 'POPE/yes_ratio', setting: s } },
]);

/** Every metric of an arm, in table order. */
export const METRICS: readonly MetricDef[] = [
  { key: 'chair_s', label: 'CHAIR_s', better: 'down', percent: true, row: { metric: 'CHAIR_s', setting: '' } },
  { key: 'chair_i', label: 'CHAIR_i', better: 'down', percent: true, row: { metric: 'CHAIR_i', setting: '' } },
  { key: 'cover', label: 'Cover', better: 'up', percent: true, row: { metric: 'Cover', setting: '' } },
  { key: 'cog', label: 'Cog', better: 'down', percent: true, row: { metric: 'Cog', setting: '' } },
  { key: 'unparsed', label: 'unparsed answers', better: 'down', percent: true, row: { metric: 'unparsed', setting: '' } },
  ...pope,
  { key: 'reliance', label: 'image reliance (nats)', better: 'up', percent: false, row: { metric: 'image_reliance', setting: '' } },
  { key: 'reliance_pos', label: 'reliance > 0 share', better: 'up', percent: true, row: { metric: 'image_reliance/positive_share', setting: '' } },
  // The mechanism (issue 20, src/core/world/README.md "Mechanism measures"): can the model see
  // each object, and do its hallucinations follow the themes' prior?
  { key: 'perception_object', label: 'per-object perception: color and shape', better: 'up', percent: true, row: { metric: 'perception', setting: 'object' } },
  { key: 'perception_color', label: 'per-object perception: color', better: 'up', percent: true, row: { metric: 'perception', setting: 'color' } },
  { key: 'perception_shape', label: 'per-object perception: shape', better: 'up', percent: true, row: { metric: 'perception', setting: 'shape' } },
  { key: 'theme_typical', label: 'theme-typical share of hallucinated mentions', better: 'none', percent: true, row: { metric: 'theme_typical_share', setting: '' } },
  { key: 'theme_typical_chance', label: 'theme-typical share at chance', better: 'none', percent: true, row: { metric: 'theme_typical_share', setting: 'chance' } },
];

export type Metrics = Record<string, number>;

/** The flat metrics of one evaluated model. */
export function metricsOf(e: WorldEvaluation, reliance: RelianceReport): Metrics {
  const d = e.description;
  const m: Metrics = { chair_s: d.chairS, chair_i: d.chairI, cover: d.cover, cog: d.cog, unparsed: d.unparsedShare };
  for (const s of POPE_SETTINGS) {
    m[`pope_${s}_acc`] = e.pope[s].accuracy;
    m[`pope_${s}_f1`] = e.pope[s].f1;
    m[`pope_${s}_yes`] = e.pope[s].yesRatio;
  }
  m.reliance = reliance.mean;
  m.reliance_pos = reliance.positiveShare;
  m.perception_object = e.perception?.objectAccuracy ?? NaN;
  m.perception_color = e.perception?.colorAccuracy ?? NaN;
  m.perception_shape = e.perception?.shapeAccuracy ?? NaN;
  // NaN (a dash) when the model hallucinated nothing: the share is undefined, not 0.
  m.theme_typical = e.themeTypical.share;
  m.theme_typical_chance = e.themeTypical.chance;
  return m;
}

/** Store rows for one model (src/shared EvaluationRow); `before` adds the base's reliance. */
export function evaluationRows(m: Metrics, before?: Metrics): EvaluationRow[] {
  const rows = METRICS.filter((d) => Number.isFinite(m[d.key])).map((d) => ({ ...d.row, value: m[d.key] }));
  if (before && Number.isFinite(before.reliance)) rows.push({ metric: 'image_reliance', setting: 'before (base)', value: before.reliance });
  return rows;
}

export interface Spread {
  mean: number;
  /** Sample standard deviation (n - 1); 0 for one value. */
  std: number;
  min: number;
  max: number;
  n: number;
}

export function spread(values: readonly number[]): Spread {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n: 0 };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : 0;
  return { mean, std, min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** Mean/std/min/max of every metric over seeds. */
export function summarise(perSeed: readonly Metrics[]): Record<string, Spread> {
  const keys = [...new Set(perSeed.flatMap((m) => Object.keys(m)))];
  return Object.fromEntries(keys.map((k) => [k, spread(perSeed.map((m) => m[k]))]));
}

// ------------------------------------------------------------------------------- the file

const spreadSchema = z.object({ mean: z.number().nullable(), std: z.number().nullable(), min: z.number().nullable(), max: z.number().nullable(), n: z.number().int() });
const seriesSchema = z.object({ steps: z.array(z.number()), values: z.array(z.number().nullable()) });
const markSchema = z.object({ object: z.string(), start: z.number().int(), end: z.number().int(), kind: z.enum(['correct', 'hallucinated']) });

export const armResultSchema = z.object({
  name: z.string(),
  /** Objective variant, or 'base' for the untrained model. */
  variant: z.string(),
  negative: z.string().nullable(),
  description: z.string(),
  seeds: z.array(
    z.object({
      seed: z.number().int(),
      metrics: z.record(z.string(), z.number().nullable()),
      trainSeconds: z.number(),
      evalSeconds: z.number(),
      steps: z.number().int(),
      /** Last step's training metrics (loss terms, rewards, imageless rewards). */
      final: z.record(z.string(), z.number().nullable()),
    }),
  ),
  summary: z.record(z.string(), spreadSchema),
  /** Training curves of the first seed: metric name -> series. */
  curves: z.record(z.string(), seriesSchema),
});

export const sampleSchema = z.object({
  sceneId: z.string(),
  imagePath: z.string(),
  question: z.string(),
  truth: z.array(z.string()),
  answers: z.record(z.string(), z.object({ answer: z.string(), marks: z.array(markSchema) })),
});

export const resultsSchema = z.object({
  format: z.literal(RESULTS_FORMAT),
  kind: z.enum(['demo', 'experiment']),
  createdAt: z.string(),
  command: z.string().nullable(),
  machine: z.object({ cpu: z.string(), cores: z.number().int(), backend: z.string(), node: z.string() }),
  wallSeconds: z.number(),
  settings: z.record(z.string(), z.unknown()),
  dataset: z.object({
    dir: z.string(),
    questions: z.number().int(),
    pairs: z.number().int(),
    dropped: z.number().int(),
    chosenHallucinations: z.number().int(),
    rejectedHallucinations: z.number().int(),
    heldOutPairs: z.number().int(),
    evalScenes: z.number().int(),
  }),
  metrics: z.array(z.object({ key: z.string(), label: z.string(), better: z.string(), percent: z.boolean() })),
  arms: z.array(armResultSchema),
  samples: z.array(sampleSchema),
  notes: z.array(z.string()),
});

export type ArmResult = z.infer<typeof armResultSchema>;
export type DemoSample = z.infer<typeof sampleSchema>;
export type StudyResults = z.infer<typeof resultsSchema>;

/** Parses a results.json (throws a zod error naming the field when it does not fit). */
export function parseResults(json: unknown): StudyResults {
  return resultsSchema.parse(json);
}

/** What the mechanism rows measure (results.md and report.html print it under the table). */
export const MECHANISM_NOTE =
  'Mechanism: per-object perception = on held-out single-object scenes, the model, teacher-forced on "Describe the image.", ' +
  'prefers the true color over the 5 others ("a red" vs "an orange" ...) and the true shape over the 5 others given the true color ' +
  '(color and shape = both right). Theme-typical share = hallucinated mentions naming an object typical of the scene\'s theme / all ' +
  'hallucinated mentions (every mention counted); at chance = the share if each hallucinated mention named a uniformly drawn absent object.';

// ------------------------------------------------------------------------------- the table

export function formatValue(def: Pick<MetricDef, 'percent'>, v: number | null | undefined, digits?: number): string {
  if (v == null || !Number.isFinite(v)) return '–';
  return def.percent ? (100 * v).toFixed(digits ?? 1) : v.toFixed(digits ?? 2);
}

export function formatSpread(def: Pick<MetricDef, 'percent'>, s: { mean: number | null; std: number | null; n: number } | undefined): string {
  if (!s || s.mean == null || !Number.isFinite(s.mean)) return '–';
  if (s.n <= 1 || s.std == null) return formatValue(def, s.mean);
  return `${formatValue(def, s.mean)} ± ${formatValue(def, s.std)}`;
}

const arrow = (d: MetricDef): string => (d.better === 'down' ? ' ↓' : d.better === 'up' ? ' ↑' : d.better === 'half' ? ' (→50)' : '');

/**
 * The results table: one row per metric, one column per arm; cells are the mean ± sample std
 * over seeds (a single value when there is one seed). Percentages for rates, nats for reliance.
 */
export function resultsTable(arms: readonly Pick<ArmResult, 'name' | 'summary'>[], metrics: readonly MetricDef[] = METRICS): string {
  const head = `| metric | ${arms.map((a) => a.name).join(' | ')} |`;
  const rule = `|---|${arms.map(() => '---:').join('|')}|`;
  const rows = metrics.map((d) => `| ${d.label}${arrow(d)} | ${arms.map((a) => formatSpread(d, a.summary[d.key])).join(' | ')} |`);
  return [head, rule, ...rows].join('\n') + '\n';
}

/** The paper's mDPO/DPO ratios on Bunny-3B, Table 1 (docs/objective.md#the-papers-numbers). */
export const PAPER_RATIOS = { chair_s: 27.0 / 44.3, chair_i: 4.6 / 7.6, cover: 67.4 / 74.1 } as const;

/** mDPO's mean over DPO's mean for CHAIR_s, CHAIR_i and Cover; null without both arms. */
export function mdpoDpoRatios(arms: readonly Pick<ArmResult, 'name' | 'summary'>[]): { chair_s: number; chair_i: number; cover: number } | null {
  const dpo = arms.find((a) => a.name === 'dpo');
  const mdpo = arms.find((a) => a.name === 'mdpo');
  if (!dpo || !mdpo) return null;
  const ratio = (k: string): number => (mdpo.summary[k]?.mean ?? NaN) / (dpo.summary[k]?.mean ?? NaN);
  return { chair_s: ratio('chair_s'), chair_i: ratio('chair_i'), cover: ratio('cover') };
}

/** One line under the table: the ratios of means, and the paper's for comparison. */
export function ratiosLine(arms: readonly Pick<ArmResult, 'name' | 'summary'>[]): string {
  const r = mdpoDpoRatios(arms);
  if (!r) return '';
  const f = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
  return `mDPO/DPO (ratio of the means): CHAIR_s ${f(r.chair_s)}, CHAIR_i ${f(r.chair_i)}, Cover ${f(r.cover)} (the paper, Bunny-3B, Table 1: CHAIR_s ${f(PAPER_RATIOS.chair_s)}, CHAIR_i ${f(PAPER_RATIOS.chair_i)}, Cover ${f(PAPER_RATIOS.cover)}).\n`;
}

/** Training diagnostics at the last step (mean ± std over seeds). */
export const FINAL_TRAIN_METRICS = [
  'loss',
  'loss/dpo',
  'loss/conditional',
  'loss/anchor',
  'rewards/chosen',
  'rewards/rejected',
  'rewards/margins',
  'rewards/accuracies',
  'rewards/imageless_chosen',
  'rewards/imageless_margins',
  'rewards/imageless_accuracies',
  'logps/chosen',
  'logps/rejected',
] as const;

/** Training values span 1e-4..10: three significant digits (mean ± std over seeds). */
export function formatTrain(s: { mean: number; std: number; n: number }): string {
  const f = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(3));
  const g = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 10 ? v.toFixed(1) : v.toPrecision(2));
  return s.n > 1 ? `${f(s.mean)} ± ${g(s.std)}` : f(s.mean);
}

export function trainingTable(arms: readonly ArmResult[]): string {
  const trained = arms.filter((a) => a.variant !== 'base');
  if (trained.length === 0) return '';
  const head = `| last-step training metric | ${trained.map((a) => a.name).join(' | ')} |`;
  const rule = `|---|${trained.map(() => '---:').join('|')}|`;
  const rows = FINAL_TRAIN_METRICS.map((name) => {
    const cells = trained.map((a) => {
      const s = spread(a.seeds.map((x) => x.final[name] ?? NaN));
      return s.n === 0 ? '–' : formatTrain(s);
    });
    return `| ${name} | ${cells.join(' | ')} |`;
  });
  return [head, rule, ...rows].join('\n') + '\n';
}

/** "39 steps (3 epochs)" from what the runs did. */
export function trainedSteps(r: StudyResults): string {
  const st = r.settings as Record<string, unknown>;
  const steps = r.arms.flatMap((a) => a.seeds.map((x) => x.steps)).find((n) => n > 0);
  return st.steps != null ? `${st.steps} steps` : `${steps ?? '?'} steps (${st.epochs} epochs)`;
}
