/**
 * The learning-rate sweep of the study (issue 20): one results.json per rate, put side by side.
 * One row per (rate, arm) for the arms every study has: the headline metrics as mean ± std over
 * seeds, and the mDPO/DPO ratios of the means at each rate.
 */
import { formatSpread, mdpoDpoRatios, METRICS, type StudyResults } from './results';

const COLUMNS = ['chair_s', 'chair_i', 'cover', 'unparsed', 'pope_adversarial_acc', 'pope_adversarial_yes', 'reliance', 'theme_typical'] as const;

export function sweepTable(studies: readonly StudyResults[]): string {
  if (studies.length === 0) throw new Error('Expected at least one results.json for the sweep, got none');
  const defs = COLUMNS.map((key) => {
    const d = METRICS.find((m) => m.key === key);
    if (!d) throw new Error(`No metric "${key}" in METRICS`);
    return d;
  });
  const rate = (s: StudyResults) => Number((s.settings as Record<string, unknown>).learningRate);
  const sorted = [...studies].sort((a, b) => rate(a) - rate(b));
  const head = `| lr | arm | seeds | ${defs.map((d) => d.label).join(' | ')} |`;
  const rule = `|---:|---|---:|${defs.map(() => '---:').join('|')}|`;
  // Arms every study trained (the sweep's), so the main study's extra arms do not crowd the table.
  const common = new Set(sorted[0].arms.map((a) => a.name).filter((n) => sorted.every((s) => s.arms.some((a) => a.name === n))));
  const rows: string[] = [];
  const ratios: string[] = [];
  for (const s of sorted) {
    for (const a of s.arms) {
      if (!common.has(a.name)) continue;
      if (a.variant === 'base' && s !== sorted[0]) continue; // the base does not depend on the rate
      rows.push(`| ${a.variant === 'base' ? '–' : rate(s)} | ${a.name} | ${a.seeds.length} | ${defs.map((d) => formatSpread(d, a.summary[d.key])).join(' | ')} |`);
    }
    const r = mdpoDpoRatios(s.arms);
    if (r) ratios.push(`| ${rate(s)} | ${r.chair_s.toFixed(2)} | ${r.chair_i.toFixed(2)} | ${r.cover.toFixed(2)} |`);
  }
  const ratioTable = ratios.length ? ['', '| lr | mDPO/DPO CHAIR_s | CHAIR_i | Cover |', '|---:|---:|---:|---:|', ...ratios] : [];
  return [head, rule, ...rows, ...ratioTable].join('\n') + '\n';
}
