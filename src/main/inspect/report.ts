/**
 * A self-contained HTML report of a real-data comparison: the automatic scores of both models,
 * the human tallies with their 95% intervals and the sign test, and every item with its image
 * (inlined as a data URL, at most 256 px), both answers and their marks (automatic: correct in
 * green, hallucinated in orange; human: underlined in red), verdict and note. No scripts, no
 * external files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { readImageBytes } from '../../core/data/preprocess';
import type { ImageRef as CoreImageRef } from '../../core/data/types';
import type { AnswerMark, AutoScores, EvalSetDetail, InspectItem, InspectPage, ItemAnswer, RateWithInterval } from '../../shared/inspect';
import { encodeImage } from '../api/datasets';

export interface ReportData {
  set: EvalSetDetail;
  page: InspectPage;
  items: (InspectItem & { imageRef: CoreImageRef })[];
  labels: { a: string; b: string };
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** The answer text with automatic and human marks as spans (overlaps: human wins where they meet). */
export function markedHtml(answer: ItemAnswer): string {
  const text = answer.text;
  const kind = new Array<string>(text.length).fill('');
  for (const m of answer.autoMarks ?? ([] as AnswerMark[])) for (let i = m.start; i < m.end; i++) kind[i] = m.kind === 'correct' ? 'ok' : 'bad';
  const human = new Array<boolean>(text.length).fill(false);
  for (const m of answer.humanMarks) for (let i = m.start; i < m.end; i++) human[i] = true;
  let out = '';
  let i = 0;
  while (i < text.length) {
    let j = i + 1;
    while (j < text.length && kind[j] === kind[i] && human[j] === human[i]) j++;
    const cls = [kind[i], human[i] ? 'human' : ''].filter(Boolean).join(' ');
    const chunk = esc(text.slice(i, j));
    out += cls ? `<span class="${cls}">${chunk}</span>` : chunk;
    i = j;
  }
  return out;
}

const rateCell = (r: RateWithInterval): string => (r.n === 0 ? '–' : `${pct(r.rate)} [${pct(r.low)}, ${pct(r.high)}] (${r.k}/${r.n})`);

function scoresTable(scores: AutoScores[], labels: string[]): string {
  const rows: [string, (s: AutoScores) => string][] = [
    ['POPE accuracy', (s) => (s.pope ? pct(s.pope.accuracy) : '–')],
    ['POPE precision', (s) => (s.pope ? pct(s.pope.precision) : '–')],
    ['POPE recall', (s) => (s.pope ? pct(s.pope.recall) : '–')],
    ['POPE F1', (s) => (s.pope ? pct(s.pope.f1) : '–')],
    ['POPE yes-ratio', (s) => (s.pope ? pct(s.pope.yesRatio) : '–')],
    ['CHAIR_s ↓', (s) => (s.chair ? pct(s.chair.chairS) : '–')],
    ['CHAIR_i ↓ (every mention)', (s) => (s.chair ? pct(s.chair.chairI) : '–')],
    ['Cover ↑', (s) => (s.chair ? pct(s.chair.cover) : '–')],
  ];
  return `<table><tr><th>metric</th>${labels.map((l) => `<th>${esc(l)}</th>`).join('')}</tr>${rows
    .map(([name, f]) => `<tr><td>${name}</td>${scores.map((s) => `<td>${f(s)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

const VERDICT_TEXT = { a: 'A better', b: 'B better', tie: 'tie', 'both-wrong': 'both wrong' } as const;

export async function renderInspectReport(d: ReportData): Promise<string> {
  const t = d.page.tallies;
  const labels = [d.labels.a, d.labels.b];
  const cards: string[] = [];
  for (const item of d.items) {
    let img: string;
    try {
      img = `<img src="${(await encodeImage(Buffer.from(await readImageBytes(item.imageRef)), 256)).dataUrl}" alt="">`;
    } catch (e) {
      img = `<p class="err">image unreadable: ${esc((e as Error).message)}</p>`;
    }
    const truth = item.truth === null ? '' : item.truth.kind === 'yesno' ? `label: <b>${item.truth.label}</b>` : `objects: ${esc(item.truth.objects.join(', '))}`;
    const side = (name: string, a: ItemAnswer | null) =>
      `<div class="ans"><h4>${esc(name)}</h4>${a ? `<p>${markedHtml(a)}</p>${a.yesNo ? `<p class="${a.yesNo.correct ? 'ok' : 'bad'}">parsed: ${a.yesNo.parsed}</p>` : ''}` : '<p class="muted">no answer</p>'}</div>`;
    cards.push(`<section class="item"><div class="img">${img}</div><div class="body"><p class="q"><b>${esc(item.key)}</b> ${esc(item.question)} <span class="muted">${truth}</span></p>
<div class="pair">${side(`A: ${labels[0]}`, item.a)}${side(`B: ${labels[1]}`, item.b)}</div>
<p>verdict: <b>${item.verdict ? VERDICT_TEXT[item.verdict] : '–'}</b>${item.note ? ` · note: ${esc(item.note)}` : ''}</p></div></section>`);
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(d.set.name)}: ${esc(labels.join(' vs '))}</title><style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
.ok{background:#d8f5d0}.bad{background:#ffd9b3}.human{text-decoration:underline 2px #c00;text-underline-offset:3px}
.item{display:flex;gap:16px;border-top:1px solid #ddd;padding:12px 0}.img img{width:160px;image-rendering:pixelated;border:1px solid #ccc}
.pair{display:flex;gap:16px}.ans{flex:1}.ans h4{margin:0 0 4px}.muted{color:#777}.q{margin:0 0 8px}.err{color:#c00}
</style></head><body>
<h1>${esc(d.set.name)}</h1>
<p>${d.set.items} items (${d.set.kinds.yesno} yes/no, ${d.set.kinds.objects} object-annotated, ${d.set.kinds.none} without ground truth). A = ${esc(labels[0]!)}, B = ${esc(labels[1]!)}.</p>
<h2>Automatic scores</h2>${scoresTable(d.page.scores, labels)}
<h2>Human judgments</h2>
<table><tr><th></th><th>A</th><th>B</th></tr>
<tr><td>hallucination rate (answers with a marked span, judged items; 95% Wilson interval)</td><td>${rateCell(t.humanRate.a)}</td><td>${rateCell(t.humanRate.b)}</td></tr></table>
<p>Judged ${t.judged} of ${t.items} (${t.left} left). Verdicts: A better ${t.verdicts.a}, B better ${t.verdicts.b}, tie ${t.verdicts.tie}, both wrong ${t.verdicts['both-wrong']}.
Sign test (A better vs B better, two-sided, exact): p = ${t.signTest.p.toPrecision(3)}.</p>
<p class="muted">Marks: <span class="ok">correct object</span>, <span class="bad">hallucinated object</span> (automatic, from the annotation), <span class="human">marked by a person</span>.</p>
<h2>Items</h2>${cards.join('\n')}
</body></html>
`;
}

export async function writeInspectReport(d: ReportData, path: string): Promise<{ path: string; items: number }> {
  const target = resolve(path);
  const html = await renderInspectReport(d);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, html);
  return { path: target, items: d.items.length };
}
