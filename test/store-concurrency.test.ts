import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../src/main/store';
import { trainConfigSchema } from '../src/shared/schemas';

import type { ValidationReport } from '../src/shared/api';

const fakeReport = { root: '/x', format: 'silkie-jsonl', files: [], excluded: [], issues: [], summary: {}, createdAt: '' } as unknown as ValidationReport;
const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mdpo-store-'));
  dirs.push(dir);
  return join(dir, 'studio.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newRun(store: Store): number {
  const dsId = store.insertDataset({ name: 'd', sourcePath: '/x', format: 'jsonl', counts: { records: 1, valid: 1, errors: 0, warnings: 0 }, report: fakeReport });
  return store.insertRun({ name: 'r', datasetId: dsId, variant: 'mdpo', config: trainConfigSchema.parse({ datasetId: dsId }), runDir: '/tmp/r' });
}

describe('store: WAL readers, batched metrics, checkpoints', () => {
  it('a second connection reads committed metrics while the writer holds an open transaction', () => {
    const path = tempDb();
    const writer = Store.open(path);
    const reader = Store.open(path);
    const runId = newRun(writer);
    writer.bufferMetrics(runId, 0, { loss: 2.07 });
    writer.flushMetrics();

    // The writer starts a transaction and writes more without committing.
    writer.db.exec('BEGIN IMMEDIATE');
    writer.db.prepare('INSERT INTO metrics (run_id, name, step, value) VALUES (?, ?, ?, ?)').run(runId, 'loss', 1, 1.9);
    // The reader is not blocked and sees only the committed step.
    const seen = reader.readMetrics(runId);
    expect(seen).toEqual([{ name: 'loss', steps: [0], values: [2.07] }]);
    writer.db.exec('COMMIT');
    expect(reader.readMetrics(runId)[0]!.steps).toEqual([0, 1]);
    writer.close();
    reader.close();
  });

  it('buffers metrics and writes them in one transaction; NaN is stored as null', () => {
    const store = Store.open(tempDb());
    const runId = newRun(store);
    let commits = 0;
    const originalTx = store.db.transaction.bind(store.db);
    store.db.transaction = ((fn: (...a: unknown[]) => unknown) => {
      const tx = originalTx(fn);
      return Object.assign((...a: unknown[]) => {
        commits++;
        return tx(...a);
      }, tx);
    }) as typeof store.db.transaction;
    for (let step = 0; step < 50; step++) store.bufferMetrics(runId, step, { loss: 1 / (step + 1), 'rewards/margins': step === 3 ? Number.NaN : step });
    expect(store.readMetrics(runId)).toEqual([]);
    expect(store.bufferedMetricCount).toBe(100);
    expect(store.flushMetrics()).toBe(100);
    expect(commits).toBe(1);
    const series = store.readMetrics(runId);
    expect(series.map((s) => s.name)).toEqual(['loss', 'rewards/margins']);
    expect(series[1]!.values[3]).toBeNull();
    expect(store.readMetrics(runId, { names: ['loss'], afterStep: 47 })).toEqual([{ name: 'loss', steps: [48, 49], values: [1 / 49, 1 / 50] }]);
    expect(store.latestMetrics(runId, ['loss'])).toEqual({ loss: 1 / 50 });
    store.close();
  });

  it('a checkpoint commits the buffered metrics with it; resume drops metrics after it', () => {
    const path = tempDb();
    const store = Store.open(path);
    const runId = newRun(store);
    for (let step = 1; step <= 10; step++) store.bufferMetrics(runId, step, { loss: step });
    store.recordCheckpoint(runId, 10, '/tmp/r/ckpt-10');
    for (let step = 11; step <= 13; step++) store.bufferMetrics(runId, step, { loss: step });
    store.flushMetrics();
    expect(store.latestCheckpoint(runId)?.step).toBe(10);
    expect(store.getRun(runId)?.lastCheckpointStep).toBe(10);
    expect(store.deleteMetricsAfter(runId, 10)).toBe(3);
    expect(store.readMetrics(runId)[0]!.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    store.close();
  });

  it('finds runs whose owner process is gone as interrupted; deleting a run cascades', () => {
    const store = Store.open(tempDb());
    const a = newRun(store);
    const b = newRun(store);
    const c = newRun(store);
    store.updateRun(a, { status: 'running', ownerPid: 999_999_991 });
    store.updateRun(b, { status: 'running', ownerPid: 12345 });
    store.updateRun(c, { status: 'completed' });
    store.bufferMetrics(a, 1, { loss: 1 });
    store.recordCheckpoint(a, 1, '/x');
    const found = store.recoverInterrupted((pid) => pid === 12345);
    expect(found).toEqual([a]);
    expect(store.getRun(a)?.status).toBe('interrupted');
    expect(store.getRun(a)?.error?.name).toBe('Interrupted');
    expect(store.getRun(b)?.status).toBe('running');
    store.deleteRun(a);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM metrics').get()).toEqual({ n: 0 });
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM checkpoints').get()).toEqual({ n: 0 });
    store.close();
  });
});
