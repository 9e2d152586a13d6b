/**
 * The self-contained HTML report: inline CSS, inline SVG curves, images as data: URLs, no
 * external resources. Results table, training diagnostics, a loss curve per loss term for
 * every trained arm, and side-by-side samples with hallucinated objects marked.
 */
import { escapeHtml, markedHtml } from './marks';
import { FINAL_TRAIN_METRICS, MECHANISM_NOTE, METRICS, formatSpread, formatTrain, ratiosLine, spread, trainedSteps, type MetricDef, type StudyResults } from './results';
import { lineChart, type Series } from './svg';

const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#a16207', '#4d7c0f'];

const CURVES: readonly { name: string; title: string }[] = [
  { name: 'loss', title: 'loss (total)' },
  { name: 'loss/dpo', title: 'loss/dpo (z1)' },
  { name: 'loss/conditional', title: 'loss/conditional (z2)' },
  { name: 'loss/anchor', title: 'loss/anchor (z3)' },
  { name: 'rewards/margins', title: 'rewards/margins' },
  { name: 'rewards/chosen', title: 'rewards/chosen' },
  { name: 'rewards/imageless_margins', title: 'rewards/imageless_margins' },
  { name: 'rewards/accuracies', title: 'rewards/accuracies' },
  { name: 'logps/chosen', title: 'logps/chosen' },
];

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f8fafc;color:#0f172a}
main{max-width:1180px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e2e8f0;padding-bottom:4px}
.muted{color:#64748b}.small{font-size:12px}
table{border-collapse:collapse;background:#fff;font-size:13px}th,td{padding:4px 10px;border-bottom:1px solid #e2e8f0;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}td.best{font-weight:700;background:#ecfdf5}
.charts{display:flex;flex-wrap:wrap;gap:10px}.charts svg{background:#fff;border:1px solid #e2e8f0;border-radius:6px}
.ct{font-size:12px;font-weight:600;fill:#0f172a}.cl{font-size:10px;fill:#64748b}.cg{stroke:#f1f5f9}.cz{stroke:#94a3b8;stroke-dasharray:3 3}
.samples{display:grid;grid-template-columns:repeat(auto-fill,minmax(540px,1fr));gap:12px}
.card{background:#fff;border:1px solid #e2e8f0;border-radius:8px;padding:10px;display:flex;gap:12px}
.card img{width:112px;height:112px;image-rendering:pixelated;border-radius:4px;flex:none}
.card .q{font-weight:600}.card dl{margin:4px 0 0;display:grid;grid-template-columns:auto 1fr;gap:2px 8px}.card dt{color:#64748b;font-size:12px;padding-top:1px}.card dd{margin:0}
mark{padding:0 2px;border-radius:3px}mark.hal{background:#fecaca;color:#7f1d1d;text-decoration:underline wavy #dc2626}mark.ok{background:#bbf7d0;color:#14532d}
.legend mark{margin-right:6px}.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px}
.note{background:#fff7ed;border:1px solid #fed7aa;border-radius:6px;padding:8px 12px;margin:8px 0}
`;

function bestIndex(def: MetricDef, means: (number | null)[]): number {
  let best = -1;
  const score = (v: number) => (def.better === 'down' ? -v : def.better === 'up' ? v : def.better === 'half' ? -Math.abs(v - 0.5) : NaN);
  let ties = 0;
  means.forEach((v, i) => {
    if (v == null || !Number.isFinite(v) || !Number.isFinite(score(v))) return;
    if (best < 0 || score(v) > score(means[best]!)) {
      best = i;
      ties = 0;
    } else if (score(v) === score(means[best]!)) ties++;
  });
  return ties > 0 ? -1 : best; // no winner when the best value is shared
}

function resultsHtml(r: StudyResults): string {
  const arms = r.arms;
  const head = `<tr><th>metric</th>${arms.map((a) => `<th class="num" title="${escapeHtml(a.description)}">${escapeHtml(a.name)}</th>`).join('')}</tr>`;
  const rows = METRICS.map((d) => {
    const means = arms.map((a) => a.summary[d.key]?.mean ?? null);
    const best = bestIndex(d, means);
    const arrow = d.better === 'down' ? ' ↓' : d.better === 'up' ? ' ↑' : d.better === 'half' ? ' →50' : '';
    const cells = arms.map((a, i) => `<td class="num${i === best ? ' best' : ''}">${escapeHtml(formatSpread(d, a.summary[d.key]))}</td>`).join('');
    return `<tr><td>${escapeHtml(d.label)}<span class="muted">${arrow}</span></td>${cells}</tr>`;
  });
  return `<table data-testid="results">${head}${rows.join('')}</table>`;
}

function trainingHtml(r: StudyResults): string {
  const trained = r.arms.filter((a) => a.variant !== 'base');
  if (trained.length === 0) return '';
  const head = `<tr><th>last step</th>${trained.map((a) => `<th class="num">${escapeHtml(a.name)}</th>`).join('')}</tr>`;
  const rows = FINAL_TRAIN_METRICS.map((name) => {
    const cells = trained.map((a) => {
      const s = spread(a.seeds.map((x) => x.final[name] ?? NaN));
      return `<td class="num">${s.n === 0 ? '–' : escapeHtml(formatTrain(s))}</td>`;
    });
    return `<tr><td class="mono">${escapeHtml(name)}</td>${cells.join('')}</tr>`;
  });
  return `<table>${head}${rows.join('')}</table>`;
}

function chartsHtml(r: StudyResults): string {
  const trained = r.arms.filter((a) => a.variant !== 'base');
  return CURVES.map((c) => {
    const series: Series[] = trained
      .map((a, i) => ({ name: a.name, color: PALETTE[i % PALETTE.length], ...(a.curves[c.name] ?? { steps: [], values: [] }) }))
      .filter((s) => s.steps.length > 0);
    if (series.length === 0) return '';
    return lineChart(series, { title: c.title });
  }).join('');
}

function samplesHtml(r: StudyResults, images: ReadonlyMap<string, string>): string {
  const shown = ['base', 'dpo', 'mdpo'];
  return r.samples
    .map((s) => {
      const img = images.get(s.sceneId);
      const answers = Object.entries(s.answers)
        .sort(([a], [b]) => (shown.indexOf(a) < 0 ? 99 : shown.indexOf(a)) - (shown.indexOf(b) < 0 ? 99 : shown.indexOf(b)))
        .map(([arm, a]) => `<dt>${escapeHtml(arm === 'dpo' ? 'DPO' : arm === 'mdpo' ? 'mDPO' : arm)}</dt><dd data-arm="${escapeHtml(arm)}">${markedHtml(a.answer, a.marks)}</dd>`)
        .join('');
      return `<div class="card" data-scene="${escapeHtml(s.sceneId)}">${img ? `<img alt="scene ${escapeHtml(s.sceneId)}" src="${img}">` : ''}<div><div class="q">${escapeHtml(s.question)}</div><dl><dt>truth</dt><dd class="muted">${escapeHtml(s.truth.join(', '))}</dd>${answers}</dl></div></div>`;
    })
    .join('');
}

/** The whole report; `images` maps scene ids to PNG data: URLs. */
export function renderReport(r: StudyResults, images: ReadonlyMap<string, string>): string {
  const title = r.kind === 'demo' ? 'mDPO Studio demo: base vs DPO vs mDPO' : 'mDPO Studio: full study';
  const seeds = Math.max(...r.arms.map((a) => a.seeds.length));
  const st = r.settings as Record<string, unknown>;
  const kv: [string, string][] = [
    ['base model', String(st.baseDir ?? '')],
    ['pairs', `${r.dataset.pairs} (${r.dataset.questions} questions sampled, ${r.dataset.dropped} ties dropped; hallucinated objects: chosen ${r.dataset.chosenHallucinations}, rejected ${r.dataset.rejectedHallucinations})`],
    ['held-out', `${r.dataset.evalScenes} scenes for CHAIR/Cover/POPE, ${r.dataset.heldOutPairs} pairs for image reliance`],
    ['training', `${trainedSteps(r)}, lr ${st.learningRate}, batch ${st.batchSize} x ${st.gradAccum}, beta ${st.beta}, LoRA r${st.loraRank}/alpha ${st.loraAlpha}, seeds ${(st.seeds as number[] | undefined)?.join(', ') ?? ''}`],
    ['machine', `${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.backend}, Node ${r.machine.node}`],
    ['wall time', `${(r.wallSeconds / 60).toFixed(1)} min`],
  ];
  if (r.command) kv.push(['command', r.command]);
  const ratios = ratiosLine(r.arms);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
<p class="muted">Built-in scenes world: every object in every image is known, so CHAIR, Cover and POPE are exact. ${seeds > 1 ? `Cells: mean ± sample std over ${seeds} seeds.` : 'One seed.'} Created ${escapeHtml(r.createdAt)}.</p>
<div class="kv">${kv.map(([k, v]) => `<span class="muted">${escapeHtml(k)}</span><span>${escapeHtml(v)}</span>`).join('')}</div>
${r.notes.map((n) => `<p class="note">${escapeHtml(n)}</p>`).join('')}
<h2>Held-out results</h2>
${resultsHtml(r)}
<p class="muted small">Rates in %, image reliance = mean logp(y_w|m) − logp(y_w|m') in nats on held-out pairs (m' = crop 1-20%). Bold: best arm in the row.</p>
${ratios ? `<p data-testid="ratios">${escapeHtml(ratios.trim())}</p>` : ''}
<p class="muted small" data-testid="mechanism-note">${escapeHtml(MECHANISM_NOTE)}</p>
<h2>Training curves${seeds > 1 ? ' (first seed)' : ''}</h2>
<div class="charts">${chartsHtml(r)}</div>
<p class="muted small">Every term is computed for every run where its inputs exist, including terms a variant does not train on (DPO's loss/anchor is a diagnostic, not part of its loss); m' is scored only by variants with a conditional term.</p>
<h2>Training diagnostics</h2>
${trainingHtml(r)}
<h2>Samples</h2>
<p class="legend small"><mark class="ok">in the image</mark><mark class="hal">hallucinated</mark> greedy answers to “Describe the image.” on held-out scenes</p>
<div class="samples">${samplesHtml(r, images)}</div>
</main></body></html>
`;
}
