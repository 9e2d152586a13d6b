import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetDetail, RunSummary } from '../src/shared/api';
import { dispatch } from '../src/main/api/dispatch';
import type { Backend } from '../src/main/backend-context';
import { openTestBackend, tempDir, writeTinyDataset } from './api-fixtures';

let tmp: ReturnType<typeof tempDir>;
let backend: Backend;
let dataset: DatasetDetail;

const call = (channel: string, input?: unknown) => dispatch(backend.handlers, channel, input);
async function value<T>(channel: string, input?: unknown): Promise<T> {
  const r = await call(channel, input);
  if (!r.ok) throw new Error(`${channel}: ${JSON.stringify(r.error)}`);
  return r.value as T;
}

beforeAll(async () => {
  tmp = tempDir();
  backend = openTestBackend(tmp.dir);
  const root = await writeTinyDataset(tmp.dir);
  dataset = await value<DatasetDetail>('datasets:import', { path: root });
});
afterAll(async () => {
  await backend.close();
  tmp.cleanup();
});

describe('API handlers through the validating dispatcher', () => {
  it('bad inputs are refused with the field named', async () => {
    const cases: [string, unknown, string][] = [
      ['runs:get', { runId: 'seven' }, 'runId'],
      ['runs:get', {}, 'runId'],
      ['runs:create', { config: { datasetId: dataset.id, beta: -1 } }, 'config.beta'],
      ['runs:create', { config: { datasetId: dataset.id, variant: 'ppo' } }, 'config.variant'],
      ['runs:create', { config: { datasetId: dataset.id, negative: { cropMin: 0.5, cropMax: 0.2 } } }, 'config.negative.cropMin'],
      ['runs:create', { config: { datasetId: dataset.id, lora: { rank: 1.5 } } }, 'config.lora.rank'],
      ['runs:diff', { runIds: [1] }, 'runIds'],
      ['datasets:records', { datasetId: dataset.id, limit: 10_000 }, 'limit'],
      ['datasets:import', { path: '' }, 'path'],
      ['runs:create', { config: { datasetId: dataset.id, baseModel: '/no/such/checkpoint' } }, 'config.baseModel'],
    ];
    for (const [channel, input, field] of cases) {
      const r = await call(channel, input);
      expect(r.ok, channel).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('bad_request');
        expect(r.error.field, `${channel} ${JSON.stringify(input)}`).toBe(field);
        expect(r.error.message.startsWith(`${field}: `)).toBe(true);
      }
    }
  });

  it('unknown ids are not_found with the field; unknown methods too', async () => {
    const r = await call('runs:get', { runId: 999 });
    expect(r).toEqual({ ok: false, error: { code: 'not_found', message: 'Run 999 does not exist.', field: 'runId' } });
    const c = await call('runs:create', { config: { datasetId: 999 } });
    expect(!c.ok && c.error.field).toBe('config.datasetId');
    const m = await call('runs:explode', {});
    expect(!m.ok && m.error.code).toBe('not_found');
    const missing = await call('datasets:import', { path: '/no/such/place' });
    expect(!missing.ok && missing.error.field).toBe('path');
  });

  it('datasets: import, list, records page, report, images, negative preview', async () => {
    expect(dataset.format).toBe('silkie-jsonl');
    expect(dataset.counts).toEqual({ records: 3, valid: 3, errors: 0, warnings: 0 });
    expect((await value<DatasetDetail[]>('datasets:list')).map((d) => d.id)).toEqual([dataset.id]);
    const page = await value<{ items: { image: string; prompt: string }[]; total: number }>('datasets:records', { datasetId: dataset.id, limit: 2 });
    expect(page.total).toBe(3);
    expect(page.items).toHaveLength(2);
    expect(page.items[0]!.prompt).toBe('What is in picture 0?');
    const image = await value<{ dataUrl: string; width: number }>('images:get', { ref: page.items[1]!.image });
    expect(image.dataUrl.startsWith('data:image/png;base64,')).toBe(true);
    expect(image.width).toBe(32);
    const report = await value<{ summary: { valid: number } }>('datasets:report', { datasetId: dataset.id });
    expect(report.summary.valid).toBe(3);
    const preview = await value<{ original: string; negatives: string[]; strategy: string }>('datasets:negativePreview', { datasetId: dataset.id, recordIndex: 0, count: 3, size: 32 });
    expect(preview.negatives).toHaveLength(3);
    expect(preview.strategy).toBe('crop 1-20%');
    const again = await value<{ negatives: string[] }>('datasets:negativePreview', { datasetId: dataset.id, recordIndex: 0, count: 3, size: 32 });
    expect(again.negatives).toEqual(preview.negatives); // seeded
    const other = await value<{ negatives: string[] }>('datasets:negativePreview', { datasetId: dataset.id, recordIndex: 0, count: 1, size: 32, strategy: 'random-image' });
    expect(other.negatives).toHaveLength(1);
  });

  it('runs: a matched pair, metrics, diff, pause/resume/cancel, delete', async () => {
    const created = await value<RunSummary[]>('runs:create', { config: { datasetId: dataset.id, maxSteps: 6, checkpointEvery: 3, seed: 5 }, pair: true });
    expect(created.map((r) => r.variant)).toEqual(['dpo', 'mdpo']);
    expect(created[0]!.pairId).toBe(created[1]!.pairId);
    expect(created[0]!.pairId).not.toBeNull();
    for (const r of created) expect(await backend.supervisor.waitFor(r.id)).toBe('completed');
    const metrics = await value<{ series: { name: string; steps: number[] }[] }>('runs:metrics', { runId: created[1]!.id, names: ['loss'] });
    expect(metrics.series[0]!.steps).toEqual([1, 2, 3, 4, 5, 6]);
    const since = await value<{ series: { steps: number[] }[] }>('runs:metrics', { runId: created[1]!.id, afterStep: 4 });
    expect(since.series[0]!.steps).toEqual([5, 6]);
    const diff = await value<{ differences: { path: string; values: unknown[] }[] }>('runs:diff', { runIds: created.map((r) => r.id) });
    expect(diff.differences).toEqual([{ path: 'variant', values: ['dpo', 'mdpo'] }]);
    const detail = await value<{ checkpoints: { step: number }[]; config: { seed: number }; latest: Record<string, number> }>('runs:get', { runId: created[0]!.id });
    expect(detail.checkpoints.map((c) => c.step)).toEqual([3, 6]);
    expect(detail.config.seed).toBe(5);
    expect(detail.latest.loss).toBeTypeOf('number');
    const pausedDone = await call('runs:pause', { runId: created[0]!.id });
    expect(!pausedDone.ok && pausedDone.error.code).toBe('conflict');
    expect(await value('runs:delete', { runId: created[0]!.id })).toEqual({ deleted: true });
    expect((await value<RunSummary[]>('runs:list')).map((r) => r.id)).toEqual([created[1]!.id]);
  });

  it('outputs and evaluations are read per run', async () => {
    const [run] = await value<RunSummary[]>('runs:create', { config: { datasetId: dataset.id, maxSteps: 2 } });
    await backend.supervisor.waitFor(run!.id);
    backend.store.putEvaluations(run!.id, [{ metric: 'CHAIR_s', setting: '', value: 0.27 }, { metric: 'POPE/f1', setting: 'random', value: 0.8 }]);
    backend.store.insertOutputs([
      { runId: run!.id, image: `record:${dataset.id}:0`, question: 'Describe.', answer: 'A square and a dog.', objects: [{ name: 'square', start: 2, end: 8 }, { name: 'dog', start: 15, end: 18 }], marks: [{ object: 'square', start: 2, end: 8, kind: 'correct' }, { object: 'dog', start: 15, end: 18, kind: 'hallucinated' }] },
      { runId: run!.id, image: `record:${dataset.id}:1`, question: 'Describe.', answer: 'A square.', objects: [], marks: null },
    ]);
    expect(await value('runs:evaluations', { runId: run!.id })).toEqual([{ metric: 'CHAIR_s', setting: '', value: 0.27 }, { metric: 'POPE/f1', setting: 'random', value: 0.8 }]);
    const all = await value<{ total: number; items: { id: number }[] }>('runs:outputs', { runId: run!.id });
    expect(all.total).toBe(2);
    const hal = await value<{ total: number }>('runs:outputs', { runId: run!.id, onlyHallucinated: true });
    expect(hal.total).toBe(1);
    const img = await value<{ width: number }>('images:get', { ref: `output:${all.items[0]!.id}` });
    expect(img.width).toBe(32);
  });
});
