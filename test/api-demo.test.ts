/**
 * demo:start end to end: the built-in demo (quick preset) runs in a trainer process from a base
 * checkpoint at <appRoot>/resources/base-model; the parent records its dataset, the dpo+mdpo
 * pair with metrics, and the evaluations/outputs the inspector reads.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend } from '../src/main/backend-context';
import type { ApiEvent, RunSummary } from '../src/shared/api';
import { SHIPPED_BASE, baseModelForTest } from './e2e/base-model';
import { REPO_ROOT, tempDir } from './api-fixtures';

const tmp = tempDir('mdpo-demo-');
afterAll(() => tmp.cleanup());

describe('demo:start', () => {
  it('is unavailable without a shipped base model', async () => {
    const appRoot = join(tmp.dir, 'bare-app');
    mkdirSync(appRoot, { recursive: true });
    cpSync(join(REPO_ROOT, 'package.json'), join(appRoot, 'package.json'));
    const b = openBackend({ home: join(tmp.dir, 'home0'), mode: 'cli', appRoot });
    const r = await dispatch(b.handlers, 'demo:start', { preset: 'quick' });
    expect(!r.ok && r.error.code).toBe('unavailable');
    await b.close();
  });

  it('runs the quick demo in a trainer process and records dataset, pair, metrics, evaluations and outputs', async () => {
    const appRoot = join(tmp.dir, 'app');
    mkdirSync(join(appRoot, 'resources'), { recursive: true });
    cpSync(join(REPO_ROOT, 'package.json'), join(appRoot, 'package.json'));
    // The shipped base when this checkout has it, else an untrained world-size base: the
    // pipeline is under test here, not the numbers.
    const target = join(appRoot, 'resources', 'base-model');
    if ((await baseModelForTest(target)) === null) cpSync(SHIPPED_BASE, target, { recursive: true });
    const b = openBackend({ home: join(tmp.dir, 'home'), mode: 'cli', appRoot });
    const events: ApiEvent[] = [];
    const finished = new Promise<ApiEvent>((resolve) =>
      b.subscribe((e) => {
        events.push(e);
        if (e.type === 'demo:finished') resolve(e);
      }),
    );
    const started = await dispatch(b.handlers, 'demo:start', { preset: 'quick' });
    expect(started.ok).toBe(true);
    const again = await dispatch(b.handlers, 'demo:start', { preset: 'quick' });
    expect(!again.ok && again.error.code).toBe('conflict');
    const end = await finished;
    expect(end).toMatchObject({ type: 'demo:finished', state: 'done', error: null });
    expect(events.some((e) => e.type === 'demo:progress')).toBe(true);
    expect(events.some((e) => e.type === 'dataset:imported')).toBe(true);

    const list = await dispatch(b.handlers, 'runs:list', undefined);
    const runs = list.ok ? (list.value as RunSummary[]) : [];
    expect(runs.map((r) => r.variant).sort()).toEqual(['dpo', 'mdpo']);
    expect(runs.every((r) => r.status === 'completed' && r.pairId === runs[0]!.pairId && r.pairId)).toBe(true);
    for (const run of runs) {
      const metrics = await dispatch(b.handlers, 'runs:metrics', { runId: run.id, names: ['loss'] });
      expect(metrics.ok && (metrics.value as { series: { steps: number[] }[] }).series[0]!.steps.length).toBeGreaterThan(0);
      const evals = await dispatch(b.handlers, 'runs:evaluations', { runId: run.id });
      expect(evals.ok && (evals.value as { metric: string }[]).map((e) => e.metric)).toContain('CHAIR_s');
      const outputs = await dispatch(b.handlers, 'runs:outputs', { runId: run.id, limit: 1 });
      const page = outputs.ok ? (outputs.value as { total: number; items: { image: string }[] }) : null;
      expect(page!.total).toBeGreaterThan(0);
      const img = await dispatch(b.handlers, 'images:get', { ref: page!.items[0]!.image });
      expect(img.ok).toBe(true);
      // The demo keeps each run's adapters with the run: the app can ask it a new question.
      const asked = await dispatch(b.handlers, 'runs:ask', { runId: run.id, image: page!.items[0]!.image, question: 'Describe the image.' });
      expect(asked.ok, JSON.stringify(asked)).toBe(true);
      expect(typeof (asked.ok && (asked.value as { answer: string }).answer)).toBe('string');
    }
    await b.close();
  });
});
