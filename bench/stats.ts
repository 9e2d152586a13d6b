/** Median and spread of repeated timings (ms). */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  /** Interquartile range: 75th - 25th percentile (linear interpolation). */
  iqr: number;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(values: number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    median: quantile(s, 0.5),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    iqr: quantile(s, 0.75) - quantile(s, 0.25),
  };
}

/** "123 ms (min 110, max 150)" */
export function fmtMs(s: Summary): string {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  return `${f(s.median)} [${f(s.min)}-${f(s.max)}]`;
}
