/** Run rows and their checkpoints, and recovery of runs whose process died. */
import type Database from 'better-sqlite3';
import type { CheckpointInfo, RunStatus, SerializedError } from '../../shared/api';
import type { TrainConfig } from '../../shared/schemas';
import { type NewRun, now, type RunPatch, type RunRow } from './types';

const LIVE_STATUSES: RunStatus[] = ['queued', 'running', 'paused'];

export const RUN_SELECT = `SELECT r.*, (SELECT MAX(step) FROM checkpoints c WHERE c.run_id = r.id) AS last_checkpoint FROM runs r`;

export interface RunDbRow {
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

export function insertRun(db: Database.Database, r: NewRun): number {
  const info = db
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

const PATCH_COLUMNS: Record<keyof RunPatch, string> = {
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

export function updateRun(db: Database.Database, id: number, patch: RunPatch): void {
  const sets: string[] = [];
  const values: unknown[] = [];
  for (const [key, column] of Object.entries(PATCH_COLUMNS) as [keyof RunPatch, string][]) {
    if (!(key in patch)) continue;
    const value = patch[key];
    sets.push(`${column} = ?`);
    values.push(key === 'error' ? (value == null ? null : JSON.stringify(value)) : (value ?? null));
  }
  if (sets.length === 0) return;
  db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
}

export function getRunRow(db: Database.Database, id: number): RunDbRow | undefined {
  return db.prepare(`${RUN_SELECT} WHERE r.id = ?`).get(id) as RunDbRow | undefined;
}

export function listRunRows(db: Database.Database): RunDbRow[] {
  return db.prepare(`${RUN_SELECT} ORDER BY r.id DESC`).all() as RunDbRow[];
}

export function deleteRun(db: Database.Database, id: number): boolean {
  return db.prepare('DELETE FROM runs WHERE id = ?').run(id).changes > 0;
}

/** A database row as a RunRow; `latest` carries the run's headline metrics. */
export function toRun(row: RunDbRow, latest: Record<string, number>): RunRow {
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
    latest,
    error: row.error ? (JSON.parse(row.error) as SerializedError) : null,
    config: JSON.parse(row.config) as TrainConfig,
    runDir: row.run_dir,
    parentCheckpoint: row.parent_checkpoint,
    ownerPid: row.owner_pid,
    trainerPid: row.trainer_pid,
  };
}

/**
 * Runs left running/paused/queued by a process that is gone (crash, kill -9, power loss)
 * become `interrupted`. `isAlive` is injectable for tests.
 */
export function recoverInterrupted(db: Database.Database, isAlive: (pid: number) => boolean): number[] {
  const placeholders = LIVE_STATUSES.map(() => '?').join(',');
  const rows = db
    .prepare(`SELECT id, owner_pid, status FROM runs WHERE status IN (${placeholders})`)
    .all(...LIVE_STATUSES) as { id: number; owner_pid: number | null; status: RunStatus }[];
  const found: number[] = [];
  for (const row of rows) {
    // A queued run never got a process: nothing to recover unless an owner claimed it.
    if (row.status === 'queued' && row.owner_pid == null) continue;
    if (row.owner_pid != null && row.owner_pid !== process.pid && isAlive(row.owner_pid)) continue;
    if (row.owner_pid === process.pid) continue; // ours: the supervisor knows its own runs
    updateRun(db, row.id, {
      status: 'interrupted',
      ownerPid: null,
      trainerPid: null,
      error: { name: 'Interrupted', message: 'The trainer process stopped without finishing (crash, kill or power loss). Resume continues from the last checkpoint.' },
    });
    found.push(row.id);
  }
  return found;
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

// ------------------------------------------------------------------------- checkpoints

/** Inserts a checkpoint row and advances the run's step; the caller owns the transaction. */
export function insertCheckpoint(db: Database.Database, runId: number, step: number, path: string): void {
  db.prepare('INSERT OR REPLACE INTO checkpoints (run_id, step, path, created_at) VALUES (?, ?, ?, ?)').run(runId, step, path, now());
  db.prepare('UPDATE runs SET step = MAX(step, ?) WHERE id = ?').run(step, runId);
}

export function listCheckpoints(db: Database.Database, runId: number): CheckpointInfo[] {
  return (
    db.prepare('SELECT step, path, created_at FROM checkpoints WHERE run_id = ? ORDER BY step').all(runId) as {
      step: number;
      path: string;
      created_at: string;
    }[]
  ).map((r) => ({ step: r.step, path: r.path, createdAt: r.created_at }));
}

export function deleteCheckpointsAfter(db: Database.Database, runId: number, step: number): void {
  db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND step > ?').run(runId, step);
}
