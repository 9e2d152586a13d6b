/**
 * The torch engine under `accelerate launch` with 2 processes (issue 16 item 1), on CPU with gloo,
 * through an exported job's launch.sh: 2 processes give the same adapters and curves after 4 steps
 * as 1 process with the same effective batch (batchSize 1 x gradAccum 2; 1e-5, fp32); a SIGKILL of
 * the whole process group mid-run, relaunched with 2 processes, or resumed with 1 process, finishes
 * exactly as the uninterrupted run; export -> launch.sh (2 processes) -> import equals the same run
 * trained locally by the app.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './api-fixtures';
import { describeWithPython, PYTHON_SKIP_REASON } from './python-env';
import { exportBenchJob, expectSameRun, importCompletedJob, jobBench, launchJobOk, type JobBench } from './torch-fixtures';

const STEPS = 4;
const t = tempDir('mdpo-multiprocess-');
let bench: JobBench;

describeWithPython(`torch engine on 2 processes (gloo, CPU) through an exported job${PYTHON_SKIP_REASON}`, () => {
  beforeAll(async () => {
    // Two micro-batches per step: one per process with 2 processes, both on the one process otherwise.
    bench = await jobBench(t.dir, { seed: 5, maxSteps: STEPS, batchSize: 1, gradAccum: 2 });
  });
  afterAll(async () => {
    await bench?.backend.close();
    t.cleanup();
  });

  it('2 processes: the same adapters and curves after 4 steps as the 1-process run of the app; only rank 0 reports', async () => {
    const job = await exportBenchJob(bench, 'job-2p');
    expect(await launchJobOk(job, { nproc: 2, env: { OMP_NUM_THREADS: '1' } })).toEqual({ code: 0, signal: null });
    const events = readFileSync(join(job, 'out', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; message?: string; step?: number });
    expect(events.filter((e) => e.type === 'metrics').map((e) => e.step)).toEqual([1, 2, 3, 4]); // one reporter
    expect(events.filter((e) => e.type === 'started')).toHaveLength(1);
    expect(events.some((e) => e.message?.startsWith('2 processes'))).toBe(true);
    await expectSameRun(bench.backend, await importCompletedJob(bench, job), bench.localRun);
  });

  it('SIGKILL of the whole process group after step 2: relaunched on 2 processes, or resumed on 1, it ends as if never killed', async () => {
    const a = await exportBenchJob(bench, 'job-kill-2p');
    const b = await exportBenchJob(bench, 'job-kill-1p');
    for (const job of [a, b]) {
      expect(await launchJobOk(job, { nproc: 2, env: { OMP_NUM_THREADS: '1' }, killAfterCheckpoint: 2 })).toEqual({ code: null, signal: 'SIGKILL' });
      const latest = JSON.parse(readFileSync(join(job, 'out', 'checkpoints', 'latest.json'), 'utf8')) as { step: number };
      expect(latest.step).toBeGreaterThanOrEqual(2);
      expect(latest.step).toBeLessThan(STEPS);
    }
    expect(await launchJobOk(a, { nproc: 2, env: { OMP_NUM_THREADS: '1' } })).toEqual({ code: 0, signal: null });
    expect(await launchJobOk(b, { nproc: 1, env: { OMP_NUM_THREADS: '1' } })).toEqual({ code: 0, signal: null });
    await expectSameRun(bench.backend, await importCompletedJob(bench, a), bench.localRun);
    await expectSameRun(bench.backend, await importCompletedJob(bench, b), bench.localRun);
  });
});
