/**
 * The run store: one SQLite file per data folder (better-sqlite3, WAL, foreign keys on, STRICT
 * tables, migrations in ./migrations). One writer per process: the process that owns a trainer
 * writes its metrics; the UI reads at the same time (WAL lets readers see the last committed
 * transaction while a writer is busy).
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type {
  CheckpointInfo,
  DatasetSummary,
  EvaluationRow,
  HallucinationMark,
  MetricSeries,
  OutputRow,
  ParsedObject,
  RunStatus,
  RunSummary,
  SerializedError,
  ValidationReport,
} from '../../shared/api';
import type { TrainConfig } from '../../shared/schemas';
import { FutureSchemaError, LATEST_VERSION, migrate } from './migrations';

export { FutureSchemaError, LATEST_VERSION };

export interface NewDataset {
  name: string;
  sourcePath: string;
  format: string;
  counts: DatasetSummary['counts'];
  report: ValidationReport;
}

export interface NewRun {
  name: string;
  datasetId: number | null;
  variant: string;
  config: TrainConfig;
  runDir: string;
  pairId?: string | null;
  parentCheckpoint?: string | null;
  status?: RunStatus;
}

export interface RunRow extends RunSummary {
  config: TrainConfig;
  runDir: string;
  parentCheckpoint: string | null;
  ownerPid: number | null;
  trainerPid: number | null;
}

export interface RunPatch {
  status?: RunStatus;
  backend?: string | null;
  step?: number;
  totalSteps?: number | null;
  startedAt?: string | null;
  finishedAt?: string | null;
  ownerPid?: number | null;
  trainerPid?: number | null;
  error?: SerializedError | null;
}

export interface NewOutput {
  runId: number;
  image: string;
  imagePath?: string | null;
  question: string;
  answer: string;
  objects: ParsedObject[];
  marks: HallucinationMark[] | null;
}

/** Headline metrics shown in run lists. */
export const HEADLINE_METRICS = ['loss', 'rewards/accuracies', 'rewards/margins', 'rewards/imageless_accuracies'];

const LIVE_STATUSES: RunStatus[] = ['queued', 'running', 'paused'];

const now = () => new Date().toISOString();

interface RunDbRow {
  id: number;
  name: string;
  dataset_id: number | null;
  variant: string;
  config: string;
  status: RunStatus;
  backend: string | null;
  pair_id: string | null;
  parent_checkpoint: string | null;
  run_dir: string;
  step: number;
  total_steps: number | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  owner_pid: number | null;
  trainer_pid: number | null;
  error: string | null;
  last_checkpoint: number | null;
}

interface DatasetDbRow {
  id: number;
  name: string;
  source_path: string;
  format: string;
  created_at: string;
  record_count: number;
  valid_count: number;
  error_count: number;
  warning_count: number;
}

const RUN_SELECT = `SELECT r.*, (SELECT MAX(step) FROM checkpoints c WHERE c.run_id = r.id) AS last_checkpoint FROM runs r`;

export class Store {
  readonly db: Database.Database;
  private metricBuffer: { runId: number; name: string; step: number; value: number | null }[] = [];

  private constructor(db: Database.Database) {
    this.db = db;
  }

  /** Opens (creating if needed) and migrates the database; refuses one from a newer build. */
  static open(path: string, options: { appVersion?: string; readonly?: boolean } = {}): Store {
    if (!options.readonly) mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    try {
      db.pragma('busy_timeout = 5000');
      db.pragma('foreign_keys = ON');
      if (!options.readonly) {
        db.pragma('journal_mode = WAL');
        // WAL + NORMAL: a commit survives a process crash; power loss may lose the last
        // transactions but never corrupts the file.
        db.pragma('synchronous = NORMAL');
        migrate(db, options.appVersion ?? '0.0.0');
      } else {
        migrateCheckOnly(db);
      }
    } catch (error) {
      db.close();
      throw error;
    }
    return new Store(db);
  }

  close(): void {
    this.flushMetrics();
    this.db.close();
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  // ------------------------------------------------------------------------- datasets

  insertDataset(d: NewDataset): number {
    const c = d.counts;
    const info = this.db
      .prepare(
        `INSERT INTO datasets (name, source_path, format, created_at, record_count, valid_count, error_count, warning_count, report)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(d.name, d.sourcePath, d.format, now(), c.records, c.valid, c.errors, c.warnings, JSON.stringify(d.report));
    return Number(info.lastInsertRowid);
  }

  listDatasets(): DatasetSummary[] {
    const rows = this.db.prepare('SELECT * FROM datasets ORDER BY id DESC').all() as DatasetDbRow[];
    return rows.map(toDataset);
  }

  getDataset(id: number): (DatasetSummary & { report: ValidationReport }) | null {
    const row = this.db.prepare('SELECT * FROM datasets WHERE id = ?').get(id) as (DatasetDbRow & { report: string }) | undefined;
    if (!row) return null;
    return { ...toDataset(row), report: JSON.parse(row.report) as ValidationReport };
  }

  deleteDataset(id: number): boolean {
    return this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id).changes > 0;
  }

  // ------------------------------------------------------------------------- runs

  insertRun(r: NewRun): number {
    const info = this.db
      .prepare(
        `INSERT INTO runs (name, dataset_id, variant, config, status, pair_id, parent_checkpoint, run_dir, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.name,
        r.datasetId,
        r.variant,
        JSON.stringify(r.config),
        r.status ?? 'queued',
        r.pairId ?? null,
        r.parentCheckpoint ?? null,
        r.runDir,
        now(),
      );
    return Number(info.lastInsertRowid);
  }

  updateRun(id: number, patch: RunPatch): void {
    const columns: Record<keyof RunPatch, string> = {
      status: 'status',
      backend: 'backend',
      step: 'step',
      totalSteps: 'total_steps',
      startedAt: 'started_at',
      finishedAt: 'finished_at',
      ownerPid: 'owner_pid',
      trainerPid: 'trainer_pid',
      error: 'error',
    };
    const sets: string[] = [];
    const values: unknown[] = [];
    for (const [key, column] of Object.entries(columns) as [keyof RunPatch, string][]) {
      if (!(key in patch)) continue;
      const value = patch[key];
      sets.push(`${column} = ?`);
      values.push(key === 'error' ? (value == null ? null : JSON.stringify(value)) : (value ?? null));
    }
    if (sets.length === 0) return;
    this.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
  }

  getRun(id: number): RunRow | null {
    const row = this.db.prepare(`${RUN_SELECT} WHERE r.id = ?`).get(id) as RunDbRow | undefined;
    return row ? this.toRun(row) : null;
  }

  listRuns(): RunRow[] {
    const rows = this.db.prepare(`${RUN_SELECT} ORDER BY r.id DESC`).all() as RunDbRow[];
    return rows.map((row) => this.toRun(row));
  }

  deleteRun(id: number): boolean {
    this.dropBufferedMetrics(id);
    return this.db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0;
  }

  /**
   * Runs left running/paused/queued by a process that is gone (crash, kill -9, power loss)
   * become `interrupted`. `isAlive` is injectable for tests.
   */
  recoverInterrupted(isAlive: (pid: number) => boolean = pidAlive): number[] {
    const placeholders = LIVE_STATUSES.map(() => '?').join(',');
    const rows = this.db
      .prepare(`SELECT id, owner_pid, status FROM runs WHERE status IN (${placeholders})`)
      .all(...LIVE_STATUSES) as { id: number; owner_pid: number | null; status: RunStatus }[];
    const found: number[] = [];
    for (const row of rows) {
      // A queued run never got a process: nothing to recover unless an owner claimed it.
      if (row.status === 'queued' && row.owner_pid == null) continue;
      if (row.owner_pid != null && row.owner_pid !== process.pid && isAlive(row.owner_pid)) continue;
      if (row.owner_pid === process.pid) continue; // ours: the supervisor knows its own runs
      this.updateRun(row.id, {
        status: 'interrupted',
        ownerPid: null,
        trainerPid: null,
        error: { name: 'Interrupted', message: 'The trainer process stopped without finishing (crash, kill or power loss). Resume continues from the last checkpoint.' },
      });
      found.push(row.id);
    }
    return found;
  }

  // ------------------------------------------------------------------------- metrics

  /** Buffers one step's metrics; call flushMetrics (or recordCheckpoint) to commit. */
  bufferMetrics(runId: number, step: number, values: Record<string, number | null>): void {
    for (const [name, value] of Object.entries(values)) {
      this.metricBuffer.push({ runId, name, step, value: value == null || !Number.isFinite(value) ? null : value });
    }
  }

  get bufferedMetricCount(): number {
    return this.metricBuffer.length;
  }

  /** Writes every buffered metric in one transaction. */
  flushMetrics(): number {
    if (this.metricBuffer.length === 0 || !this.db.open) return 0;
    const rows = this.metricBuffer;
    this.metricBuffer = [];
    this.db.transaction(() => this.insertMetricRows(rows))();
    return rows.length;
  }

  private insertMetricRows(rows: { runId: number; name: string; step: number; value: number | null }[]): void {
    const insert = this.db.prepare('INSERT OR REPLACE INTO metrics (run_id, name, step, value) VALUES (?, ?, ?, ?)');
    for (const r of rows) insert.run(r.runId, r.name, r.step, r.value);
  }

  private dropBufferedMetrics(runId: number): void {
    this.metricBuffer = this.metricBuffer.filter((m) => m.runId !== runId);
  }

  readMetrics(runId: number, options: { names?: string[]; afterStep?: number } = {}): MetricSeries[] {
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

  latestMetrics(runId: number, names: string[] = HEADLINE_METRICS): Record<string, number> {
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

  /** Drops metrics logged after `step` (a resume from the checkpoint at `step` redoes them). */
  deleteMetricsAfter(runId: number, step: number): number {
    this.metricBuffer = this.metricBuffer.filter((m) => m.runId !== runId || m.step <= step);
    return this.db.prepare('DELETE FROM metrics WHERE run_id = ? AND step > ?').run(runId, step).changes;
  }

  // ------------------------------------------------------------------------- checkpoints

  /**
   * Records a checkpoint and, in the same transaction, every buffered metric: a checkpoint row
   * in the database guarantees that all metrics up to its step are there too.
   */
  recordCheckpoint(runId: number, step: number, path: string): void {
    const rows = this.metricBuffer;
    this.metricBuffer = [];
    this.db.transaction(() => {
      this.insertMetricRows(rows);
      this.db
        .prepare('INSERT OR REPLACE INTO checkpoints (run_id, step, path, created_at) VALUES (?, ?, ?, ?)')
        .run(runId, step, path, now());
      this.db.prepare('UPDATE runs SET step = MAX(step, ?) WHERE id = ?').run(step, runId);
    })();
  }

  listCheckpoints(runId: number): CheckpointInfo[] {
    return (
      this.db.prepare('SELECT step, path, created_at FROM checkpoints WHERE run_id = ? ORDER BY step').all(runId) as {
        step: number;
        path: string;
        created_at: string;
      }[]
    ).map((r) => ({ step: r.step, path: r.path, createdAt: r.created_at }));
  }

  latestCheckpoint(runId: number): CheckpointInfo | null {
    const all = this.listCheckpoints(runId);
    return all[all.length - 1] ?? null;
  }

  deleteCheckpointsAfter(runId: number, step: number): void {
    this.db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND step > ?').run(runId, step);
  }

  // ------------------------------------------------------------------------- evaluations

  putEvaluations(runId: number, rows: EvaluationRow[]): void {
    const stmt = this.db.prepare(
      'INSERT OR REPLACE INTO evaluations (run_id, metric, setting, value, created_at) VALUES (?, ?, ?, ?, ?)',
    );
    const at = now();
    this.db.transaction(() => {
      for (const r of rows) stmt.run(runId, r.metric, r.setting, r.value, at);
    })();
  }

  listEvaluations(runId: number): EvaluationRow[] {
    return this.db
      .prepare('SELECT metric, setting, value FROM evaluations WHERE run_id = ? ORDER BY metric, setting')
      .all(runId) as EvaluationRow[];
  }

  // ------------------------------------------------------------------------- outputs

  insertOutputs(rows: NewOutput[]): number[] {
    const stmt = this.db.prepare(
      `INSERT INTO outputs (run_id, image, image_path, question, answer, objects, marks, hallucinated, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const at = now();
    return this.db.transaction(() =>
      rows.map((r) => {
        const hallucinated = r.marks?.some((m) => m.kind === 'hallucinated') ? 1 : 0;
        const info = stmt.run(
          r.runId,
          r.image,
          r.imagePath ?? null,
          r.question,
          r.answer,
          JSON.stringify(r.objects),
          r.marks == null ? null : JSON.stringify(r.marks),
          hallucinated,
          at,
        );
        return Number(info.lastInsertRowid);
      }),
    )();
  }

  pageOutputs(runId: number, offset: number, limit: number, onlyHallucinated = false): { items: OutputRow[]; total: number } {
    const where = `run_id = ?${onlyHallucinated ? ' AND hallucinated = 1' : ''}`;
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM outputs WHERE ${where}`).get(runId) as { n: number }).n;
    const rows = this.db
      .prepare(`SELECT * FROM outputs WHERE ${where} ORDER BY id LIMIT ? OFFSET ?`)
      .all(runId, limit, offset) as OutputDbRow[];
    return { items: rows.map(toOutput), total };
  }

  getOutput(id: number): (OutputRow & { imagePath: string | null }) | null {
    const row = this.db.prepare('SELECT * FROM outputs WHERE id = ?').get(id) as OutputDbRow | undefined;
    return row ? { ...toOutput(row), imagePath: row.image_path } : null;
  }

  // ------------------------------------------------------------------------- helpers

  private toRun(row: RunDbRow): RunRow {
    return {
      id: row.id,
      name: row.name,
      datasetId: row.dataset_id,
      variant: row.variant,
      status: row.status,
      backend: row.backend,
      pairId: row.pair_id,
      step: row.step,
      totalSteps: row.total_steps,
      createdAt: row.created_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      lastCheckpointStep: row.last_checkpoint,
      latest: this.latestMetrics(row.id),
      error: row.error ? (JSON.parse(row.error) as SerializedError) : null,
      config: JSON.parse(row.config) as TrainConfig,
      runDir: row.run_dir,
      parentCheckpoint: row.parent_checkpoint,
      ownerPid: row.owner_pid,
      trainerPid: row.trainer_pid,
    };
  }
}

interface OutputDbRow {
  id: number;
  run_id: number;
  image: string;
  image_path: string | null;
  question: string;
  answer: string;
  objects: string;
  marks: string | null;
}

function toOutput(row: OutputDbRow): OutputRow {
  return {
    id: row.id,
    runId: row.run_id,
    image: row.image,
    question: row.question,
    answer: row.answer,
    objects: JSON.parse(row.objects) as ParsedObject[],
    marks: row.marks == null ? null : (JSON.parse(row.marks) as HallucinationMark[]),
  };
}

function toDataset(row: DatasetDbRow): DatasetSummary {
  return {
    id: row.id,
    name: row.name,
    sourcePath: row.source_path,
    format: row.format,
    createdAt: row.created_at,
    counts: { records: row.record_count, valid: row.valid_count, errors: row.error_count, warnings: row.warning_count },
  };
}

function migrateCheckOnly(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > LATEST_VERSION) throw new FutureSchemaError(version, LATEST_VERSION);
}

/** Whether a process with this pid exists (signal 0 probes without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
