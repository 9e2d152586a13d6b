/**
 * The torch engine under the real `accelerate launch` with an FSDP config (issue 16 item 1), on CPU with gloo, through
 * an exported job: `ACCELERATE_CONFIG=accelerate-fsdp.yaml ./launch.sh` (accelerate's FSDP launcher, fsdp_version 2)
 * shards the frozen base (each process holds less than the whole model, logged in events.jsonl), and 2 processes
 * give the same curves and adapters after 4 steps as the app's 1-process run with the same effective batch
 * (batchSize 1 x gradAccum 2; 1e-5, fp32). A SIGKILL of the process group after step 2 resumes exactly, under FSDP
 * or on one process. DeepSpeed: a DeepSpeed config fails in accelerate itself here (deepspeed is not installed);
 * where DeepSpeed's launcher does start the engine (ACCELERATE_USE_DEEPSPEED=true) the engine refuses with one
 * `failed` event and writes nothing else.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tempDir } from './api-fixtures';
import { describeWithPython, PYTHON_SKIP_REASON } from './python-env';
import { exportBenchJob, expectSameRun, importCompletedJob, jobBench, launchJob, type JobBench } from './torch-fixtures';

const STEPS = 4;
const FSDP = { ACCELERATE_CONFIG: 'accelerate-fsdp.yaml' };
const ONE_THREAD = { OMP_NUM_THREADS: '1' };
const t = tempDir('mdpo-fsdp-');
interface JobEvent { type: string; message?: string; step?: number; error?: { name: string; message: string } }
let bench: JobBench;

function events(jobDir: string): JobEvent[] {
  return readFileSync(join(jobDir, 'out', 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JobEvent);
}

/** The engine's log line "FSDP2 ...: parameter bytes per rank [a, b] of F for the whole model". */
function shardedBytes(list: JobEvent[]): { ranks: number[]; full: number } {
  const line = list.find((e) => e.type === 'log' && e.message?.startsWith('FSDP2 FULL_SHARD'))?.message;
  expect(line, 'the FSDP log line').toBeDefined();
  const m = /per rank (\[[\d, ]+\]) of (\d+)/.exec(line!);
  return { ranks: JSON.parse(m![1]!) as number[], full: Number(m![2]) };
}

describeWithPython(`torch engine under accelerate launch with an FSDP config (gloo, CPU)${PYTHON_SKIP_REASON}`, () => {
  beforeAll(async () => {
    // Two micro-batches per step: one per process with 2 processes, both on the one process otherwise.
    bench = await jobBench(t.dir, { seed: 5, maxSteps: STEPS, batchSize: 1, gradAccum: 2 });
  });
  afterAll(async () => {
    await bench?.backend.close();
    t.cleanup();
  });

  it('2 FSDP processes: the base is sharded, and the curves and adapters after 4 steps equal the 1-process run', async () => {
    const job = await exportBenchJob(bench, 'job-fsdp');
    expect(readFileSync(join(job, 'accelerate-fsdp.yaml'), 'utf8')).toContain('distributed_type: FSDP');
    const r = await launchJob(job, { nproc: 2, env: { ...ONE_THREAD, ...FSDP } });
    expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: 0, signal: null });
    const list = events(job);
    const { ranks, full } = shardedBytes(list);
    expect(ranks).toHaveLength(2);
    for (const held of ranks) expect(held).toBeLessThan(0.6 * full); // half the base each, plus the whole (small) LoRA
    expect(list.filter((e) => e.type === 'metrics').map((e) => e.step)).toEqual([1, 2, 3, 4]); // one reporter
    expect(list.filter((e) => e.type === 'started')).toHaveLength(1);
    const diff = await expectSameRun(bench.backend, await importCompletedJob(bench, job), bench.localRun);
    console.info(`FSDP, 2 processes vs the app's 1 process: parameter bytes per rank ${JSON.stringify(ranks)} of ${full}; max diff metrics ${diff.metrics}, adapters ${diff.adapter}`);
  });

  it('SIGKILL of the FSDP process group after step 2: relaunched under FSDP, or resumed on 1 process, it ends as if never killed', async () => {
    const a = await exportBenchJob(bench, 'job-fsdp-kill');
    const b = await exportBenchJob(bench, 'job-fsdp-kill-1p');
    for (const job of [a, b]) {
      const r = await launchJob(job, { nproc: 2, env: { ...ONE_THREAD, ...FSDP }, killAfterCheckpoint: 2 });
      expect({ code: r.code, signal: r.signal }, r.stderr).toEqual({ code: null, signal: 'SIGKILL' });
      const latest = JSON.parse(readFileSync(join(job, 'out', 'checkpoints', 'latest.json'), 'utf8')) as { step: number };
      expect(latest.step).toBeGreaterThanOrEqual(2);
      expect(latest.step).toBeLessThan(STEPS);
    }
    const again = await launchJob(a, { nproc: 2, env: { ...ONE_THREAD, ...FSDP } });
    expect({ code: again.code, signal: again.signal }, again.stderr).toEqual({ code: 0, signal: null });
    expect(events(a).some((e) => e.type === 'log' && e.message?.startsWith('resuming from checkpoints/'))).toBe(true);
    const one = await launchJob(b, { nproc: 1, env: ONE_THREAD });
    expect({ code: one.code, signal: one.signal }, one.stderr).toEqual({ code: 0, signal: null });
    await expectSameRun(bench.backend, await importCompletedJob(bench, a), bench.localRun);
    await expectSameRun(bench.backend, await importCompletedJob(bench, b), bench.localRun);
  });

  it('DeepSpeed (and a missing ACCELERATE_CONFIG file): accelerate refuses a DeepSpeed config here; started by DeepSpeed\'s launcher, the engine refuses with one failed event', async () => {
    const job = await exportBenchJob(bench, 'job-deepspeed');
    const missing = await launchJob(job, { nproc: 2, env: { ...ONE_THREAD, ACCELERATE_CONFIG: 'accelerate-zero3.yaml' } });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('launch.sh: no accelerate config at accelerate-zero3.yaml (ACCELERATE_CONFIG)');
    writeFileSync(join(job, 'accelerate-ds.yaml'), ['compute_environment: LOCAL_MACHINE', 'distributed_type: DEEPSPEED',
      'deepspeed_config:', '  zero_stage: 3', 'mixed_precision: "no"', 'num_processes: 2', 'num_machines: 1', 'machine_rank: 0', 'use_cpu: false', ''].join('\n'));
    const viaConfig = await launchJob(job, { nproc: 2, env: { ...ONE_THREAD, ACCELERATE_CONFIG: 'accelerate-ds.yaml' } });
    expect(viaConfig.code).not.toBe(0);
    expect(viaConfig.stderr).toContain('DeepSpeed is not installed');
    expect(existsSync(join(job, 'out'))).toBe(false);

    const r = await launchJob(job, { nproc: 2, env: { ...ONE_THREAD, ACCELERATE_USE_DEEPSPEED: 'true', ACCELERATE_DEEPSPEED_ZERO_STAGE: '3' } });
    expect(r.code).not.toBe(0);
    const list = events(job);
    const failed = list.filter((e) => e.type === 'failed');
    expect(failed).toHaveLength(1); // rank 0 alone reports
    expect(failed[0]!.error!.name).toBe('JobError');
    expect(failed[0]!.error!.message).toContain('ZeRO stage 3');
    expect(failed[0]!.error!.message).toContain('FULL_SHARD ~ ZeRO-3');
    expect(list.map((e) => e.type)).toEqual(['log', 'failed', 'exit']); // "2 processes: ..." then the refusal
    expect(existsSync(join(job, 'out', 'checkpoints'))).toBe(false);
    expect(existsSync(join(job, 'out', 'adapter'))).toBe(false);
  });
});
