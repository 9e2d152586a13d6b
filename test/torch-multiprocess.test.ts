/**
 * The torch engine under `accelerate launch` with 2 processes (issue 16 item 1), on CPU with gloo,
 * through an exported job's launch.sh: 2 processes give the same adapters and curves after 4 steps
 * as 1 process with the same effective batch (batchSize 1 x gradAccum 2; 1e-5, fp32); a SIGKILL of
 * the whole process group mid-run, relaunched with 2 processes, or resumed with 1 process, finishes
 * exactly as the uninterrupted run; export -> launch.sh (2 processes) -> import equals the same run
 * trained locally by the app.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openBackend, type Backend } from '../src/main/backend-context';
import type { ApiChannel } from '../src/shared/api';
import type { MethodInput } from '../src/shared/schemas';
import { callApi, cliIn, tempDir } from './api-fixtures';
import { describeWithPython, PYTHON, PYTHON_SKIP_REASON, REPO_ROOT } from './python-env';
import { buildTinyCheckpoint, expectSameRun, launchJobOk, writeGradientDataset } from './torch-fixtures';

const STEPS = 4;
const t = tempDir('mdpo-multiprocess-');
const home = join(t.dir, 'home');
let backend: Backend;
let model: string;
let datasetId: number;
let localRun: number;

const call = <C extends ApiChannel>(channel: C, input: MethodInput<C>) => callApi(backend, channel, input);

const cli = (...args: string[]) => cliIn(home, ...args);

// Two micro-batches per step: one per process with 2 processes, both on the one process otherwise.
const config = () => ({
  datasetId, engine: 'torch', baseModel: model, seed: 5, maxSteps: STEPS, batchSize: 1, gradAccum: 2, checkpointEvery: 1, learningRate: 0.01,
  lora: { rank: 8, alpha: 16 }, torch: { python: PYTHON, imageSize: 56, device: 'cpu', precision: 'fp32' },
});

async function exportJob(name: string): Promise<string> {
  const dir = join(t.dir, name);
  const r = await cli('runs', 'export-job', join(t.dir, 'config.json'), '--out', dir, '--processes', '2');
  expect(r.code, r.err).toBe(0);
  return dir;
}

async function importJob(dir: string): Promise<number> {
  const r = await cli('runs', 'import-job', dir, '--json');
  expect(r.code, r.err).toBe(0);
  const imported = JSON.parse(r.out) as { runId: number; status: string };
  expect(imported.status).toBe('completed');
  return imported.runId;
}

describeWithPython(`torch engine on 2 processes (gloo, CPU) through an exported job${PYTHON_SKIP_REASON}`, () => {
  beforeAll(async () => {
    model = buildTinyCheckpoint('llava', join(t.dir, 'llava'));
    backend = openBackend({ home, mode: 'cli', appRoot: REPO_ROOT });
    datasetId = (await call('datasets:import', { path: await writeGradientDataset(t.dir, 4) })).id;
    writeFileSync(join(t.dir, 'config.json'), JSON.stringify(config()));
    const [run] = await call('runs:create', { config: config() as MethodInput<'runs:create'>['config'] });
    localRun = run!.id;
    expect(await backend.supervisor.waitFor(localRun)).toBe('completed');
  });
  afterAll(async () => {
    await backend?.close();
    t.cleanup();
  });

  it('2 processes: the same adapters and curves after 4 steps as the 1-process run of the app; only rank 0 reports', async () => {
    const job = await exportJob('job-2p');
    expect(await launchJobOk(job, { nproc: 2, env: { OMP_NUM_THREADS: '1' } })).toEqual({ code: 0, signal: null });
    const events = readFileSync(join(job, 'out', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; message?: string; step?: number });
    expect(events.filter((e) => e.type === 'metrics').map((e) => e.step)).toEqual([1, 2, 3, 4]); // one reporter
    expect(events.filter((e) => e.type === 'started')).toHaveLength(1);
    expect(events.some((e) => e.message?.startsWith('2 processes'))).toBe(true);
    await expectSameRun(backend, await importJob(job), localRun);
  });

  it('SIGKILL of the whole process group after step 2: relaunched on 2 processes, or resumed on 1, it ends as if never killed', async () => {
    const a = await exportJob('job-kill-2p');
    const b = await exportJob('job-kill-1p');
    for (const job of [a, b]) {
      expect(await launchJobOk(job, { nproc: 2, env: { OMP_NUM_THREADS: '1' }, killAfterCheckpoint: 2 })).toEqual({ code: null, signal: 'SIGKILL' });
      const latest = JSON.parse(readFileSync(join(job, 'out', 'checkpoints', 'latest.json'), 'utf8')) as { step: number };
      expect(latest.step).toBeGreaterThanOrEqual(2);
      expect(latest.step).toBeLessThan(STEPS);
    }
    expect(await launchJobOk(a, { nproc: 2, env: { OMP_NUM_THREADS: '1' } })).toEqual({ code: 0, signal: null });
    expect(await launchJobOk(b, { nproc: 1, env: { OMP_NUM_THREADS: '1' } })).toEqual({ code: 0, signal: null });
    await expectSameRun(backend, await importJob(a), localRun);
    await expectSameRun(backend, await importJob(b), localRun);
  });
});
