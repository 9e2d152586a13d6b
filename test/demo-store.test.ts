/**
 * src/main/demo-store.ts on its own: the hooks of a study (as runDemo calls them, or as the
 * trainer process relays them) become a dataset, runs, metrics, evaluations and outputs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DPO_ARM, MDPO_ARM, BASE_ARM, armTrainConfig, DEMO_SETTINGS, type ArmRunInfo, type OutputRecord } from '../src/core/demo';
import type { ImportResult } from '../src/core/data';
import { demoStoreHooks } from '../src/main/demo-store';
import { ensureHome } from '../src/main/home';
import { Store } from '../src/main/store';

const cleanup: (() => void)[] = [];
afterEach(() => {
  while (cleanup.length) cleanup.pop()!();
});

function setup() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'demo-store-'));
  const paths = ensureHome(dir);
  const store = Store.open(paths.db);
  cleanup.push(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { paths, store, ...demoStoreHooks(store, paths) };
}

const settings = { ...DEMO_SETTINGS, baseDir: 'resources/base-model', outDir: 'out' };
const run = (arm = DPO_ARM, seed = 1): ArmRunInfo => ({ arm, seed, config: armTrainConfig(settings, arm, seed), totalSteps: 2, backend: 'wasm (test)' });
const imported = {
  format: 'silkie-json',
  records: [{ index: 0, id: 'r0', prompt: 'Describe the image.', chosen: 'a red circle.', rejected: 'a blue bar.' }],
  report: { summary: { records: 1, valid: 1, excluded: 0, warnings: 0 }, issues: [] },
} as unknown as ImportResult;
const output = (sceneId: string, answer: string): OutputRecord => ({
  sceneId,
  imagePath: `/tmp/${sceneId}.png`,
  question: 'Describe the image.',
  answer,
  objects: [{ name: 'red circle', start: 2, end: 12 }],
  marks: [{ object: 'red circle', start: 2, end: 12, kind: 'hallucinated' }],
});

describe('demoStoreHooks', () => {
  it('records the dataset with its records file, then runs paired dpo/mdpo with metrics, evaluations and outputs', async () => {
    const { store, hooks, state, paths } = setup();
    await hooks.onDataset!({ dir: '/data/pairs', name: 'world pairs', import: imported });
    const [ds] = store.listDatasets();
    expect(ds).toMatchObject({ name: 'world pairs', sourcePath: '/data/pairs', format: 'silkie-json', counts: { records: 1, valid: 1 } });
    expect(JSON.parse(readFileSync(path.join(paths.datasets, String(ds.id), 'records.json'), 'utf8'))).toHaveLength(1);

    for (const arm of [DPO_ARM, MDPO_ARM]) {
      const info = run(arm);
      await hooks.onRunStart!(info);
      for (const step of [1, 2]) hooks.onStep!(info, { step, totalSteps: 2, metrics: { loss: 1 / step }, pairsPerSec: 3, tokensPerSec: 30 } as never);
      await hooks.onRunEnd!(info, { status: 'completed', steps: 2 });
      await hooks.onEvaluated!(info, { metrics: {}, rows: [{ metric: 'CHAIR_s', setting: '', value: 0.5 }], outputs: [output('eval-0', 'a red circle.'), output('eval-1', 'x')] });
    }
    const runs = store.listRuns().sort((a, b) => a.id - b.id);
    expect(runs.map((r) => [r.variant, r.status, r.step, r.totalSteps, r.datasetId, r.backend])).toEqual([
      ['dpo', 'completed', 2, 2, ds.id, 'wasm (test)'],
      ['mdpo', 'completed', 2, 2, ds.id, 'wasm (test)'],
    ]);
    expect(runs[0].pairId).toBeTruthy();
    expect(runs[0].pairId).toBe(runs[1].pairId);
    expect(runs[0].config.datasetId).toBe(ds.id);
    expect(runs[0].config.learningRate).toBe(DEMO_SETTINGS.learningRate);
    expect(store.getRun(runs[0].id)!.ownerPid).toBeNull();
    const m = store.readMetrics(runs[1].id);
    expect(m.find((s) => s.name === 'loss')).toEqual({ name: 'loss', steps: [1, 2], values: [1, 0.5] });
    expect(m.map((s) => s.name)).toContain('throughput/pairs_per_sec');
    expect(store.listEvaluations(runs[0].id)).toEqual([{ metric: 'CHAIR_s', setting: '', value: 0.5 }]);
    const a = store.pageOutputs(runs[0].id, 0, 10).items;
    const b = store.pageOutputs(runs[1].id, 0, 10).items;
    expect(a.map((o) => o.image)).toEqual([`output:${a[0].id}`, `output:${a[1].id}`]);
    expect(b.map((o) => o.image)).toEqual(a.map((o) => o.image)); // same scene, same image ref
    expect(b[0].marks).toEqual([{ object: 'red circle', start: 2, end: 12, kind: 'hallucinated' }]);
    expect(store.pageOutputs(runs[0].id, 0, 10, true).total).toBe(2);
    expect(store.getOutput(a[0].id)!.imagePath).toBe('/tmp/eval-0.png');
    expect([...state.runIds.keys()]).toEqual(['dpo@1', 'mdpo@1']);
  });

  it('gives the base no run, and records a failed run with its error', async () => {
    const { store, hooks } = setup();
    await hooks.onDataset!({ dir: '/d', name: 'd', import: imported });
    const base: ArmRunInfo = { arm: BASE_ARM, seed: 1, config: null, totalSteps: 0, backend: 'wasm' };
    await hooks.onRunStart!(base);
    await hooks.onEvaluated!(base, { metrics: {}, rows: [], outputs: [] });
    expect(store.listRuns()).toEqual([]);
    const info = run(DPO_ARM, 2);
    await hooks.onRunStart!(info);
    await hooks.onRunEnd!(info, { status: 'failed', steps: 1, error: { name: 'TrainingDivergedError', message: 'NaN loss at step 2' } });
    const [r] = store.listRuns();
    expect(r).toMatchObject({ status: 'failed', step: 1, name: 'demo: dpo (seed 2)', error: { message: 'NaN loss at step 2' } });
  });
});
