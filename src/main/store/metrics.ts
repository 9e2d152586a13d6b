/**
 * Training metrics: buffered in memory per step and committed in one transaction (on flush or
 * together with a checkpoint row, so a checkpoint in the database implies its metrics are too).
 */
import type Database from 'better-sqlite3';
import type { MetricSeries } from '../../shared/api';
import { HEADLINE_METRICS } from './types';

export interface MetricRow {
  runId: number;
  name: string;
  step: number;
  value: number | null;
}

export class MetricLog {
  private buffer: MetricRow[] = [];

  constructor(private readonly db: Database.Database) {}

  /** Buffers one step's metrics (non-finite values become null). */
  add(runId: number, step: number, values: Record<string, number | null>): void {
    for (const [name, value] of Object.entries(values)) {
      this.buffer.push({ runId, name, step, value: value == null || !Number.isFinite(value) ? null : value });
    }
  }

  get size(): number {
    return this.buffer.length;
  }

  /** Empties the buffer and returns what was in it. */
  take(): MetricRow[] {
    const rows = this.buffer;
    this.buffer = [];
    return rows;
  }

  /** Writes every buffered metric in one transaction. */
  flush(): number {
    if (this.buffer.length === 0 || !this.db.open) return 0;
    const rows = this.take();
    this.db.transaction(() => this.insert(rows))();
    return rows.length;
  }

  /** Inserts rows; the caller owns the transaction. */
  insert(rows: MetricRow[]): void {
    const stmt = this.db.prepare('INSERT OR REPLACE INTO metrics (run_id, name, step, value) VALUES (?, ?, ?, ?)');
    for (const r of rows) stmt.run(r.runId, r.name, r.step, r.value);
  }

  /** Forgets buffered rows of a run, all of them or those after `afterStep`. */
  drop(runId: number, afterStep = -Infinity): void {
    this.buffer = this.buffer.filter((m) => m.runId !== runId || m.step <= afterStep);
  }

  read(runId: number, options: { names?: string[]; afterStep?: number } = {}): MetricSeries[] {
    const rows = this.db
      .prepare('SELECT name, step, value FROM metrics WHERE run_id = ? AND step > ? ORDER BY name, step')
      .all(runId, options.afterStep ?? -1) as { name: string; step: number; value: number | null }[];
    const wanted = options.names ? new Set(options.names) : null;
    const byName = new Map<string, MetricSeries>();
    for (const row of rows) {
      if (wanted && !wanted.has(row.name)) continue;
      let s = byName.get(row.name);
      if (!s) byName.set(row.name, (s = { name: row.name, steps: [], values: [] }));
      s.steps.push(row.step);
      s.values.push(row.value);
    }
    return [...byName.values()];
  }

  latest(runId: number, names: string[] = HEADLINE_METRICS): Record<string, number> {
    const out: Record<string, number> = {};
    const stmt = this.db.prepare(
      'SELECT value FROM metrics WHERE run_id = ? AND name = ? AND value IS NOT NULL ORDER BY step DESC LIMIT 1',
    );
    for (const name of names) {
      const row = stmt.get(runId, name) as { value: number } | undefined;
      if (row) out[name] = row.value;
    }
    return out;
  }

  /** Drops metrics logged after `step`, buffered and stored. */
  deleteAfter(runId: number, step: number): number {
    this.drop(runId, step);
    return this.db.prepare('DELETE FROM metrics WHERE run_id = ? AND step > ?').run(runId, step).changes;
  }
}
