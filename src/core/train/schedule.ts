/**
 * Learning-rate schedules, as Hugging Face transformers defines them (get_*_schedule_with_warmup),
 * so a run here and a TRL run with the same settings see the same learning rates:
 *
 *   warm-up steps  = ceil(totalSteps * warmupRatio)
 *   step < warm-up : lr * step / warm-up                     (the very first step uses lr 0)
 *   afterwards     : cosine   lr * 0.5 (1 + cos(π progress)),  progress = (step - warm-up) / (total - warm-up)
 *                    linear   lr * (1 - progress)
 *                    constant lr
 * `step` is the 0-based index of the optimizer step about to be taken.
 */

export const SCHEDULE_NAMES = ['cosine', 'linear', 'constant'] as const;
export type ScheduleName = (typeof SCHEDULE_NAMES)[number];

export interface ScheduleConfig {
  /** Peak learning rate. */
  lr: number;
  schedule: ScheduleName;
  /** Fraction of the optimizer steps spent warming up (docs/objective.md: 0.1). */
  warmupRatio: number;
  totalSteps: number;
}

export function warmupSteps(totalSteps: number, warmupRatio: number): number {
  return Math.ceil(totalSteps * warmupRatio);
}

export function learningRateAt(step: number, c: ScheduleConfig): number {
  const warm = warmupSteps(c.totalSteps, c.warmupRatio);
  if (step < warm) return (c.lr * step) / Math.max(1, warm);
  if (c.schedule === 'constant') return c.lr;
  const progress = Math.min(1, (step - warm) / Math.max(1, c.totalSteps - warm));
  if (c.schedule === 'linear') return c.lr * Math.max(0, 1 - progress);
  return c.lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * progress)));
}
