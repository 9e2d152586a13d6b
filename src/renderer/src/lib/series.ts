/** Metric series as immutable maps: every update returns a new map (cheap to diff for charts). */
import type { MetricSeries } from '../../../shared/api';

export type SeriesMap = ReadonlyMap<string, MetricSeries>;

export function appendPoints(series: SeriesMap, step: number, values: Record<string, number | null>): Map<string, MetricSeries> {
  const next = new Map(series);
  for (const [name, value] of Object.entries(values)) {
    const s = next.get(name) ?? { name, steps: [], values: [] };
    const last = s.steps[s.steps.length - 1];
    if (last !== undefined && step <= last) continue;
    next.set(name, { name, steps: [...s.steps, step], values: [...s.values, value] });
  }
  return next;
}

export function mergeSeries(series: SeriesMap | undefined, incoming: MetricSeries[]): Map<string, MetricSeries> {
  const next = new Map(series ?? []);
  for (const inc of incoming) {
    const s = next.get(inc.name) ?? { name: inc.name, steps: [], values: [] };
    const last = s.steps[s.steps.length - 1] ?? -Infinity;
    const steps = [...s.steps];
    const values = [...s.values];
    inc.steps.forEach((step, i) => {
      if (step > last) {
        steps.push(step);
        values.push(inc.values[i] ?? null);
      }
    });
    next.set(inc.name, { name: inc.name, steps, values });
  }
  return next;
}
