/** The report's summary: counts by severity and code, length and image-size distributions. */
import type { Distribution, IssueCode, PreferenceRecord, ValidationSummary } from './types';
import type { DataIssue } from './types';

export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { count: 0, min: 0, median: 0, p90: 0, max: 0, mean: 0 };
  const s = [...values].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { count: s.length, min: s[0], median: q(0.5), p90: q(0.9), max: s[s.length - 1], mean: Math.round(mean * 100) / 100 };
}

export function summarize(
  total: number,
  records: readonly PreferenceRecord[],
  issues: readonly DataIssue[],
  tokens?: { prompt: number[]; chosen: number[]; rejected: number[] },
): ValidationSummary {
  const byCode: Partial<Record<IssueCode, number>> = {};
  for (const i of issues) byCode[i.code] = (byCode[i.code] ?? 0) + 1;
  const formats: Record<string, number> = {};
  const widths: number[] = [];
  const heights: number[] = [];
  const pixels: number[] = [];
  for (const r of records) {
    if (!r.imageInfo) continue;
    formats[r.imageInfo.format] = (formats[r.imageInfo.format] ?? 0) + 1;
    widths.push(r.imageInfo.width);
    heights.push(r.imageInfo.height);
    pixels.push(r.imageInfo.width * r.imageInfo.height);
  }
  return {
    records: total,
    valid: records.length,
    excluded: total - records.length,
    errors: issues.filter((i) => i.severity === 'error').length,
    warnings: issues.filter((i) => i.severity === 'warning').length,
    notes: issues.filter((i) => i.severity === 'note').length,
    byCode,
    lengths: {
      promptChars: distribution(records.map((r) => r.prompt.length)),
      chosenChars: distribution(records.map((r) => r.chosen.length)),
      rejectedChars: distribution(records.map((r) => r.rejected.length)),
      ...(tokens
        ? { promptTokens: distribution(tokens.prompt), chosenTokens: distribution(tokens.chosen), rejectedTokens: distribution(tokens.rejected) }
        : {}),
    },
    images: { width: distribution(widths), height: distribution(heights), pixels: distribution(pixels), formats },
  };
}
