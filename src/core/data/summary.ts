/** The report's summary: counts by severity and code, length and image-size distributions. */
import type { DataIssue, Distribution, IssueCode, ValidationSummary } from './types';
import type { KeptStats } from './validate';

export function distribution(values: ArrayLike<number>): Distribution {
  if (values.length === 0) return { count: 0, min: 0, median: 0, p90: 0, max: 0, mean: 0 };
  const s = Float64Array.from(values).sort();
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i];
  const mean = sum / s.length;
  return { count: s.length, min: s[0], median: q(0.5), p90: q(0.9), max: s[s.length - 1], mean: Math.round(mean * 100) / 100 };
}

/** `total` records read, `valid` kept; `stats` describe the kept ones. */
export function summarize(total: number, valid: number, issues: readonly DataIssue[], stats: KeptStats): ValidationSummary {
  const byCode: Partial<Record<IssueCode, number>> = {};
  const bySeverity = { error: 0, warning: 0, note: 0 };
  for (const i of issues) {
    byCode[i.code] = (byCode[i.code] ?? 0) + 1;
    bySeverity[i.severity]++;
  }
  const t = stats.tokens;
  return {
    records: total,
    valid,
    excluded: total - valid,
    errors: bySeverity.error,
    warnings: bySeverity.warning,
    notes: bySeverity.note,
    byCode,
    lengths: {
      promptChars: distribution(stats.promptChars.values()),
      chosenChars: distribution(stats.chosenChars.values()),
      rejectedChars: distribution(stats.rejectedChars.values()),
      ...(t ? { promptTokens: distribution(t.prompt.values()), chosenTokens: distribution(t.chosen.values()), rejectedTokens: distribution(t.rejected.values()) } : {}),
    },
    images: { width: distribution(stats.width.values()), height: distribution(stats.height.values()), pixels: distribution(stats.pixels.values()), formats: { ...stats.formats } },
  };
}
