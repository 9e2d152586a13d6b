/** Exports of a run: metrics as CSV (one row per step, one column per metric) and a self-contained HTML report. */
import type { EvaluationRow, MetricSeries, RunDetail } from '../shared/api';

export function metricsCsv(series: MetricSeries[]): string {
  const steps = [...new Set(series.flatMap((s) => s.steps))].sort((a, b) => a - b);
  const lookup = series.map((s) => new Map(s.steps.map((step, i) => [step, s.values[i]])));
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const lines = [['step', ...series.map((s) => quote(s.name))].join(',')];
  for (const step of steps) lines.push([String(step), ...lookup.map((m) => (m.get(step) == null ? '' : String(m.get(step))))].join(','));
  return lines.join('\n') + '\n';
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A small inline SVG line chart (no scripts, no external files). */
function chart(s: MetricSeries): string {
  const pts = s.steps.map((x, i) => [x, s.values[i]] as const).filter((p): p is readonly [number, number] => p[1] != null);
  if (pts.length === 0) return '';
  const W = 320, H = 120, P = 6;
  const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const sx = (x: number) => P + ((x - x0) / (x1 - x0 || 1)) * (W - 2 * P);
  const sy = (y: number) => H - P - ((y - y0) / (y1 - y0 || 1)) * (H - 2 * P);
  const d = pts.map((p, i) => `${i ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
  return `<figure><figcaption>${escapeHtml(s.name)} <small>${y0.toPrecision(4)} .. ${y1.toPrecision(4)}</small></figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}"><path d="${d}" fill="none" stroke="#2563eb" stroke-width="1.5"/></svg></figure>`;
}

export function renderRunReport(run: RunDetail, series: MetricSeries[], evaluations: EvaluationRow[]): string {
  const rows = (pairs: [string, string][]) => pairs.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const evalRows = evaluations.map((e) => `<tr><td>${escapeHtml(e.metric)}</td><td>${escapeHtml(e.setting)}</td><td>${e.value.toFixed(4)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mDPO Studio run ${run.id}: ${escapeHtml(run.name)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem}table{border-collapse:collapse}th,td{text-align:left;padding:2px 10px;border-bottom:1px solid #ddd}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-size:.85rem}pre{background:#f6f6f6;padding:1rem;overflow:auto}</style></head>
<body><h1>Run ${run.id}: ${escapeHtml(run.name)}</h1>
<table>${rows([
    ['variant', run.variant],
    ['status', run.status + (run.error ? ` (${run.error.message})` : '')],
    ['steps', `${run.step} / ${run.totalSteps ?? '?'}`],
    ['backend', run.backend ?? '-'],
    ['started', run.startedAt ?? '-'],
    ['finished', run.finishedAt ?? '-'],
    ...Object.entries(run.latest).map(([k, v]) => [`final ${k}`, v.toFixed(4)] as [string, string]),
  ])}</table>
${evaluations.length ? `<h2>Evaluation</h2><table><tr><th>metric</th><th>setting</th><th>value</th></tr>${evalRows}</table>` : ''}
<h2>Curves</h2><div class="charts">${series.map(chart).join('')}</div>
<h2>Config</h2><pre>${escapeHtml(JSON.stringify(run.config, null, 2))}</pre>
</body></html>
`;
}
