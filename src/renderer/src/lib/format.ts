/** Small formatters shared by every view. */

export function fmtNum(value: number | null | undefined, digits = 4): string {
  if (value == null || !Number.isFinite(value)) return '—';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return Number(value.toPrecision(digits)).toString();
}

export function fmtPct(value: number | null | undefined, digits = 1): string {
  if (value == null || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(digits)}%`;
}

export function fmtDuration(ms: number | null | undefined): string {
  if (ms == null || !Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

export function fmtValue(value: unknown): string {
  if (value === undefined) return '—';
  if (typeof value === 'number') return fmtNum(value, 6);
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Axis ticks: short (5e-4, 0.25, 1.2k). */
export function fmtAxis(value: number | null | undefined): string {
  if (value == null || !Number.isFinite(value)) return '';
  const abs = Math.abs(value);
  if (abs === 0) return '0';
  if (abs < 1e-2) return value.toExponential(0);
  if (abs >= 1e4) return `${Number((value / 1000).toPrecision(3))}k`;
  return Number(value.toPrecision(3)).toString();
}
