/**
 * Progress on a terminal: one line per phase with a bar, counts, elapsed time and ETA. On a TTY
 * the line of the running phase updates in place and stays when the phase ends; elsewhere (logs,
 * CI) a line is printed when a phase ends and at most every `everyMs` while it runs.
 */
import type { ProgressEvent } from './study';

export function fmtDuration(ms: number | null): string {
  if (ms == null || !Number.isFinite(ms)) return '--';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export function progressLine(e: ProgressEvent, width = 20): string {
  const frac = e.total > 0 ? Math.min(1, e.done / e.total) : 0;
  const bar = '#'.repeat(Math.round(frac * width)).padEnd(width, '.');
  const time = e.finished ? `done in ${fmtDuration(e.elapsedMs)}` : `${fmtDuration(e.elapsedMs)} elapsed, ETA ${fmtDuration(e.etaMs)}`;
  return `${e.phase.padEnd(22)} [${bar}] ${String(Math.round(frac * 100)).padStart(3)}% ${e.done}/${e.total}  ${time}${e.detail ? `  ${e.detail}` : ''}`;
}

export interface TerminalOut {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export function terminalProgress(out: TerminalOut = process.stderr, options: { everyMs?: number } = {}): (e: ProgressEvent) => void {
  const tty = !!out.isTTY;
  const everyMs = options.everyMs ?? (tty ? 150 : 30000);
  let last = 0;
  let open = false;
  return (e) => {
    const now = Date.now();
    if (!e.finished && now - last < everyMs && e.done !== 0) return;
    last = now;
    let line = progressLine(e);
    if (tty) {
      const cols = out.columns ?? 120;
      if (line.length > cols - 1) line = line.slice(0, cols - 1);
      out.write(`\r\x1b[2K${line}${e.finished ? '\n' : ''}`);
      open = !e.finished;
    } else if (e.finished || e.done > 0) {
      out.write(`${line}\n`);
    }
    void open;
  };
}
