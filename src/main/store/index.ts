/**
 * The run store: one SQLite file per data folder (better-sqlite3, WAL, foreign keys on, STRICT
 * tables, migrations in ./migrations). One writer per process: the process that owns a trainer
 * writes its metrics; the UI reads at the same time (WAL lets readers see the last committed
 * transaction while a writer is busy).
 *
 * This class is the store's one public face; the SQL lives by table in ./open (opening and
 * migrating), ./datasets, ./runs (runs and checkpoints), ./metrics (the metric buffer) and
 * ./outputs (evaluations and outputs).
 */
import type Database from 'better-sqlite3';
import type {
  CheckpointInfo,
  DatasetSummary,
  EvaluationRow,
  MetricSeries,
  OutputRow,
  ValidationReport,
} from '../../shared/api';
import * as datasets from './datasets';
import { MetricLog } from './metrics';
import { FutureSchemaError, LATEST_VERSION } from './migrations';
import { type OpenOptions, openDatabase } from './open';
import * as outputs from './outputs';
import * as runs from './runs';
import { pidAlive } from './runs';
import { HEADLINE_METRICS, type NewDataset, type NewOutput, type NewRun, type RunPatch, type RunRow } from './types';

export { FutureSchemaError, LATEST_VERSION, pidAlive, HEADLINE_METRICS };
export type { NewDataset, NewOutput, NewRun, OpenOptions, RunPatch, RunRow };

export class Store {
  readonly db: Database.Database;
  private readonly metrics: MetricLog;

  private constructor(db: Database.Database) {
    this.db = db;
    this.metrics = new MetricLog(db);
  }

  /** Opens (creating if needed) and migrates the database; refuses one from a newer build. */
  static open(path: string, options: OpenOptions = {}): Store {
    return new Store(openDatabase(path, options));
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
    return datasets.insertDataset(this.db, d);
  }

  listDatasets(): DatasetSummary[] {
    return datasets.listDatasets(this.db);
  }

  getDataset(id: number): (DatasetSummary & { report: ValidationReport }) | null {
    return datasets.getDataset(this.db, id);
  }

  deleteDataset(id: number): boolean {
    return datasets.deleteDataset(this.db, id);
  }

  // ------------------------------------------------------------------------- runs

  insertRun(r: NewRun): number {
    return runs.insertRun(this.db, r);
  }

  updateRun(id: number, patch: RunPatch): void {
    runs.updateRun(this.db, id, patch);
  }

  getRun(id: number): RunRow | null {
    const row = runs.getRunRow(this.db, id);
    return row ? runs.toRun(row, this.latestMetrics(row.id)) : null;
  }

  listRuns(): RunRow[] {
    return runs.listRunRows(this.db).map((row) => runs.toRun(row, this.latestMetrics(row.id)));
  }

  deleteRun(id: number): boolean {
    this.metrics.drop(id);
    return runs.deleteRun(this.db, id);
  }

  /**
   * Runs left running/paused/queued by a process that is gone (crash, kill -9, power loss)
   * become `interrupted`. `isAlive` is injectable for tests.
   */
  recoverInterrupted(isAlive: (pid: number) => boolean = pidAlive): number[] {
    return runs.recoverInterrupted(this.db, isAlive);
  }

  // ------------------------------------------------------------------------- metrics

  /** Buffers one step's metrics; call flushMetrics (or recordCheckpoint) to commit. */
  bufferMetrics(runId: number, step: number, values: Record<string, number | null>): void {
    this.metrics.add(runId, step, values);
  }

  get bufferedMetricCount(): number {
    return this.metrics.size;
  }

  /** Writes every buffered metric in one transaction. */
  flushMetrics(): number {
    return this.metrics.flush();
  }

  readMetrics(runId: number, options: { names?: string[]; afterStep?: number } = {}): MetricSeries[] {
    return this.metrics.read(runId, options);
  }

  latestMetrics(runId: number, names: string[] = HEADLINE_METRICS): Record<string, number> {
    return this.metrics.latest(runId, names);
  }

  /** Drops metrics logged after `step` (a resume from the checkpoint at `step` redoes them). */
  deleteMetricsAfter(runId: number, step: number): number {
    return this.metrics.deleteAfter(runId, step);
  }

  // ------------------------------------------------------------------------- checkpoints

  /**
   * Records a checkpoint and, in the same transaction, every buffered metric: a checkpoint row
   * in the database guarantees that all metrics up to its step are there too.
   */
  recordCheckpoint(runId: number, step: number, path: string): void {
    const rows = this.metrics.take();
    this.db.transaction(() => {
      this.metrics.insert(rows);
      runs.insertCheckpoint(this.db, runId, step, path);
    })();
  }

  listCheckpoints(runId: number): CheckpointInfo[] {
    return runs.listCheckpoints(this.db, runId);
  }

  latestCheckpoint(runId: number): CheckpointInfo | null {
    const all = this.listCheckpoints(runId);
    return all[all.length - 1] ?? null;
  }

  deleteCheckpointsAfter(runId: number, step: number): void {
    runs.deleteCheckpointsAfter(this.db, runId, step);
  }

  // ------------------------------------------------------------------------- evaluations and outputs

  putEvaluations(runId: number, rows: EvaluationRow[]): void {
    outputs.putEvaluations(this.db, runId, rows);
  }

  listEvaluations(runId: number): EvaluationRow[] {
    return outputs.listEvaluations(this.db, runId);
  }

  insertOutputs(rows: NewOutput[]): number[] {
    return outputs.insertOutputs(this.db, rows);
  }

  pageOutputs(runId: number, offset: number, limit: number, onlyHallucinated = false): { items: OutputRow[]; total: number } {
    return outputs.pageOutputs(this.db, runId, offset, limit, onlyHallucinated);
  }

  getOutput(id: number): (OutputRow & { imagePath: string | null }) | null {
    return outputs.getOutput(this.db, id);
  }
}
