/**
 * Cluster jobs (issue 16, items 2-3): `mdpo runs export-job` writes a self-contained folder with
 * nothing of this machine in it; its launch.sh trains with the torch engine without the app; `mdpo
 * runs import-job` brings the result back as a run that equals the same run trained locally
 * (metrics and adapters to 1e-5, fp32 CPU); a job killed mid-run (SIGKILL of its process group)
 * imports as interrupted and `runs resume` finishes it locally, again equal to the local run.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dispatch } from '../src/main/api/dispatch';
import type { ApiChannel } from '../src/shared/api';
import type { MethodInput } from '../src/shared/schemas';
import { callApi, cliIn, tempDir } from './api-fixtures';
import { describeWithPython, PYTHON, PYTHON_SKIP_REASON, REPO_ROOT } from './python-env';
import { expectSameRun, jobBench, launchJobOk, type JobBench } from './torch-fixtures';

const STEPS = 4;
const t = tempDir('mdpo-cluster-job-');
let bench: JobBench;

const call = <C extends ApiChannel>(channel: C, input: MethodInput<C>) => callApi(bench.backend, channel, input);

const cli = (...args: string[]) => cliIn(bench.home, ...args);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => (statSync(join(dir, e)).isDirectory() ? filesUnder(join(dir, e)) : [join(dir, e)]));
}

describeWithPython(`cluster job export -> launch.sh -> import${PYTHON_SKIP_REASON}`, () => {
  beforeAll(async () => {
    // The same run trained locally: the reference for everything below.
    bench = await jobBench(t.dir, { seed: 3, maxSteps: STEPS, batchSize: 2, gradAccum: 1 });
  });
  afterAll(async () => {
    await bench?.backend.close();
    t.cleanup();
  });

  it('export-job writes job, data, m\', model, engine, scripts; no path of this machine in any file; bad inputs exit 3 naming the problem', async () => {
    const job = join(t.dir, 'job-a');
    const r = await cli('runs', 'export-job', bench.configFile, '--out', job);
    expect(r.code, r.err).toBe(0);
    const files = filesUnder(job).map((f) => f.slice(job.length + 1));
    for (const f of ['job.json', 'data/records.json', 'data/images/manifest.json', 'model/config.json', 'engine/mdpo_torch/job.py', 'engine/mdpo_torch/engine.py', 'requirements.txt', 'accelerate.yaml', 'launch.sh', 'slurm.sbatch', 'README.md']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('data/images/') && f.endsWith('.png'))).toHaveLength(8); // m and m' of 4 pairs
    const manifest = JSON.parse(readFileSync(join(job, 'data/images/manifest.json'), 'utf8'));
    expect(manifest.pairs.map((p: { negatives: string[] }) => p.negatives.length)).toEqual([1, 1, 1, 1]);
    // Nothing points back here: not the temp folder (data, model, home), the repository, the interpreter or the user's home.
    const forbidden = [t.dir, REPO_ROOT, PYTHON!, homedir()];
    for (const f of filesUnder(job)) {
      const text = readFileSync(f).toString('latin1');
      for (const p of forbidden) expect(text.includes(p), `${f} names ${p}`).toBe(false);
    }
    const spec = JSON.parse(readFileSync(join(job, 'job.json'), 'utf8'));
    expect([spec.config.baseModel, spec.config.torch.negativesDir, spec.config.torch.python, spec.lineage.datasetId]).toEqual(['model', 'data/images', null, bench.datasetId]);

    expect(await cli('runs', 'export-job', bench.configFile, '--out', job)).toMatchObject({ code: 3, err: expect.stringContaining('exists and is not empty') });
    expect(await cli('runs', 'export-job', '999', '--out', join(t.dir, 'x'))).toMatchObject({ code: 3, err: expect.stringContaining('Run 999 does not exist.') });
    writeFileSync(join(t.dir, 'bad.json'), JSON.stringify({ ...bench.config, batchSize: 0 }));
    expect(await cli('runs', 'export-job', join(t.dir, 'bad.json'), '--out', join(t.dir, 'x'))).toMatchObject({ code: 3, err: expect.stringContaining('batchSize') });
    expect(existsSync(join(t.dir, 'x'))).toBe(false);
    expect(await cli('runs', 'import-job', join(t.dir, 'llava'))).toMatchObject({ code: 3, err: expect.stringContaining('has no job.json') });
    expect(await cli('runs', 'import-job', job)).toMatchObject({ code: 3, err: expect.stringContaining('the job has not been run') });
  });

  it('the API channels: runs:exportJob writes the job of a run with its lineage; runs:importJob refuses a folder that is not a job, naming the field', async () => {
    const out = join(t.dir, 'job-api');
    const r = await call('runs:exportJob', { runId: bench.localRun, outDir: out, copyModel: false });
    expect(r.dir).toBe(out);
    const spec = JSON.parse(readFileSync(join(out, 'job.json'), 'utf8'));
    expect(spec.lineage.run).toEqual({ id: bench.localRun, name: bench.backend.store.getRun(bench.localRun)!.name });
    expect(existsSync(join(out, 'model'))).toBe(false);
    expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('NOT included');
    const bad = await dispatch(bench.backend.handlers, 'runs:importJob', { dir: join(t.dir, 'nowhere') });
    expect(bad.ok ? null : [bad.error.code, bad.error.field, bad.error.message]).toEqual(['bad_request', 'dir', `dir: ${join(t.dir, 'nowhere')} is not an exported job: it has no job.json.`]);
  });

  it('launch.sh (no app) -> import-job: a completed run equal to the local one, with its lineage', async () => {
    const job = join(t.dir, 'job-a');
    expect(await launchJobOk(job)).toEqual({ code: 0, signal: null });
    // The job folder travels: import a copy somewhere else.
    const moved = join(t.dir, 'moved', 'job-a');
    mkdirSync(join(t.dir, 'moved'));
    cpSync(job, moved, { recursive: true });
    const r = await cli('runs', 'import-job', moved, '--json');
    expect(r.code, r.err).toBe(0);
    const imported = JSON.parse(r.out) as { runId: number; status: string; checkpoints: number[] };
    expect(imported).toMatchObject({ status: 'completed', step: STEPS, totalSteps: STEPS, adapter: true });
    expect(imported.checkpoints.at(-1)).toBe(STEPS);
    const run = await call('runs:get', { runId: imported.runId });
    expect(run.config.datasetId).toBe(bench.datasetId);
    expect(run.backend).toBe('torch cpu (float32)');
    await expectSameRun(bench.backend, imported.runId, bench.localRun);
  });

  it('a job killed mid-run imports as interrupted and resumes locally to the same run', async () => {
    const job = join(t.dir, 'job-b');
    expect((await cli('runs', 'export-job', bench.configFile, '--out', job)).code).toBe(0);
    expect(await launchJobOk(job, { killAfterCheckpoint: 2 })).toEqual({ code: null, signal: 'SIGKILL' });
    const r = await cli('runs', 'import-job', job, '--json');
    expect(r.code, r.err).toBe(0);
    const imported = JSON.parse(r.out) as { runId: number; status: string; checkpoints: number[]; adapter: boolean };
    expect(imported.status).toBe('interrupted');
    expect(imported.adapter).toBe(false);
    expect(imported.checkpoints).toContain(2);
    expect(Math.max(...imported.checkpoints)).toBeLessThan(STEPS);
    await call('runs:resume', { runId: imported.runId });
    expect(await bench.backend.supervisor.waitFor(imported.runId)).toBe('completed');
    await expectSameRun(bench.backend, imported.runId, bench.localRun);
  });
});
