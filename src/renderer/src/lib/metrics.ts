/**
 * The chart panels of the run view: every metric of docs/objective.md, grouped so that terms that share
 * a scale share a chart. Names follow TRL (see docs/objective.md#metrics-logged-every-step).
 */
export interface MetricPanel {
  title: string;
  /** One line: what to look for. */
  hint: string;
  metrics: string[];
}

export const METRIC_PANELS: MetricPanel[] = [
  { title: 'Loss', hint: 'Total and per term: -log σ(β·z) for DPO, conditional, anchor.', metrics: ['loss', 'loss/dpo', 'loss/conditional', 'loss/anchor'] },
  { title: 'Rewards (β·r)', hint: 'Chosen should stay up (anchor); the margin should grow.', metrics: ['rewards/chosen', 'rewards/rejected', 'rewards/margins'] },
  { title: 'Accuracies', hint: 'Share of pairs with chosen > rejected, and with m > m′.', metrics: ['rewards/accuracies', 'rewards/imageless_accuracies'] },
  { title: 'Image conditioning', hint: 'β·r(y_w|m′) and β·z2: does the answer need the real image?', metrics: ['rewards/imageless_chosen', 'rewards/imageless_margins'] },
  { title: 'Log-probs', hint: 'Summed answer-token log-probs under the policy.', metrics: ['logps/chosen', 'logps/rejected', 'logps/imageless_chosen'] },
  { title: 'Gradient norm', hint: 'Before clipping.', metrics: ['grad_norm'] },
  { title: 'Learning rate', hint: 'Warm-up, then the schedule.', metrics: ['learning_rate'] },
];

/** Headline numbers for lists, in display order. */
export const HEADLINE = ['loss', 'rewards/accuracies', 'rewards/margins', 'rewards/imageless_accuracies'];

export const SHORT_NAMES: Record<string, string> = {
  loss: 'loss',
  'rewards/accuracies': 'acc',
  'rewards/margins': 'margin',
  'rewards/imageless_accuracies': 'img acc',
};

/** Metrics that belong to no panel still get charted (nothing the trainer logs is hidden). */
export function extraPanels(names: string[]): MetricPanel[] {
  const known = new Set(METRIC_PANELS.flatMap((p) => p.metrics));
  const rest = names.filter((n) => !known.has(n)).sort();
  return rest.length ? [{ title: 'Other', hint: 'Further metrics the trainer logs.', metrics: rest }] : [];
}

export const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

export function colorAt(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/** One line of a chart. */
export interface Line {
  label: string;
  color: string;
  steps: number[];
  values: (number | null)[];
  dash?: boolean;
}

/** One run's series for the chart grid. */
export interface ChartRun {
  label: string;
  series: ReadonlyMap<string, { steps: number[]; values: (number | null)[] }>;
}
