/** A small, dependency-free SVG line chart for the self-contained report. */
import { escapeHtml } from './marks';

export interface Series {
  name: string;
  color: string;
  steps: readonly number[];
  values: readonly (number | null)[];
}

export interface ChartOptions {
  title: string;
  width?: number;
  height?: number;
}

/** A tick label with enough decimals to tell ticks `step` apart. */
function tickLabel(v: number, step: number): string {
  if (!Number.isFinite(v)) return '';
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || (a < 1e-3 && step < 1e-3))) return v.toExponential(Math.max(1, Math.min(4, Math.ceil(Math.log10(a / step)))));
  const decimals = Math.max(0, Math.min(6, Math.ceil(-Math.log10(step)) + 1));
  return v.toFixed(decimals).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** One chart: steps on x, values on y, one polyline per series, a legend under the title. */
export function lineChart(series: readonly Series[], o: ChartOptions): string {
  const W = o.width ?? 360;
  const H = o.height ?? 200;
  // Legend items left to right, wrapping to a new row when the chart is too narrow.
  const legendItems: { x: number; row: number; s: Series }[] = [];
  {
    let x = 48;
    let row = 0;
    for (const s of series) {
      const w = 20 + s.name.length * 6.2;
      if (x + w > W - 10 && x > 48) {
        row++;
        x = 48;
      }
      legendItems.push({ x, row, s });
      x += w;
    }
  }
  const rows = legendItems.length ? legendItems[legendItems.length - 1].row + 1 : 1;
  const m = { left: 48, right: 10, top: 24 + 10 * rows, bottom: 26 };
  const pts = series.flatMap((s) => s.steps.map((x, i) => [x, s.values[i]] as const).filter((p): p is readonly [number, number] => p[1] != null && Number.isFinite(p[1])));
  const title = `<text x="${m.left}" y="14" class="ct">${escapeHtml(o.title)}</text>`;
  if (pts.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(o.title)}">${title}<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="cl">no data</text></svg>`;
  }
  const x0 = Math.min(...pts.map((p) => p[0]));
  let x1 = Math.max(...pts.map((p) => p[0]));
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) {
    y0 -= Math.abs(y0) * 0.1 || 1;
    y1 += Math.abs(y1) * 0.1 || 1;
  }
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const grid: string[] = [];
  for (let k = 0; k <= 4; k++) {
    const y = y0 + ((y1 - y0) * k) / 4;
    grid.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" class="cg"/>`);
    grid.push(`<text x="${m.left - 4}" y="${(py(y) + 3).toFixed(1)}" text-anchor="end" class="cl">${tickLabel(y, (y1 - y0) / 4)}</text>`);
  }
  grid.push(`<text x="${m.left}" y="${H - 8}" class="cl">${x0}</text>`);
  grid.push(`<text x="${W - m.right}" y="${H - 8}" text-anchor="end" class="cl">step ${x1}</text>`);
  if (y0 < 0 && y1 > 0) grid.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(0).toFixed(1)}" y2="${py(0).toFixed(1)}" class="cz"/>`);
  const lines = series.map((s) => {
    const d = s.steps
      .map((x, i) => [x, s.values[i]] as const)
      .filter((p): p is readonly [number, number] => p[1] != null && Number.isFinite(p[1]))
      .map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`)
      .join(' ');
    return `<polyline fill="none" stroke="${s.color}" stroke-width="1.6" points="${d}"><title>${escapeHtml(s.name)}</title></polyline>`;
  });
  const legend = legendItems.map(({ x, row, s }) => {
    const y = 21 + 10 * row;
    return `<rect x="${x}" y="${y}" width="10" height="3" fill="${s.color}"/><text x="${x + 13}" y="${y + 5}" class="cl">${escapeHtml(s.name)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(o.title)}">${title}${legend.join('')}${grid.join('')}${lines.join('')}</svg>`;
}
