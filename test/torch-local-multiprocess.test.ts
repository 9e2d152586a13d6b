/**
 * The app's own torch runs on several processes (issue 16 item 1; config.torch.processes,
 * src/main/python/launch.ts): through the real supervisor and store, on CPU with gloo, fp32, a
 * run on 2 processes, paused and resumed mid-run, equals the same run on 1 process (adapters and
 * every curve, 1e-5); a SIGKILL of the launcher mid-run takes every rank down with it, the run is
 * interrupted, and resuming it finishes identical; a cancel reaches both ranks (the run ends
 * cancelled with a checkpoint, nothing left running).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openBackend, type Backend } from '../src/main/backend-context';
import type { ApiChannel } from '../src/shared/api';
import { trainConfigSchema, type MethodInput } from '../src/shared/schemas';
import { runCli } from '../src/main/cli';
import { callApi, tempDir, writeTinyDataset } from './api-fixtures';
import { describeWithPython, PYTHON, PYTHON_SKIP_REASON, REPO_ROOT } from './python-env';
import { buildTinyCheckpoint, expectSameRun, writeGradientDataset } from './torch-fixtures';

const STEPS = 4;
const t = tempDir('mdpo-local-mp-');
let backend: Backend;
let model: string;
let datasetId: number;
let oneProcess: number;

const call = <C extends ApiChannel>(channel: C, input: MethodInput<C>) => callApi(backend, channel, input);

// Two micro-batches per step: one per rank with 2 processes, both on the one process otherwise.
const config = (processes: number, name: string) => ({
  name, datasetId, engine: 'torch', baseModel: model, seed: 5, maxSteps: STEPS, batchSize: 1, gradAccum: 2, checkpointEvery: 1, learningRate: 0.01,
  lora: { rank: 8, alpha: 16 }, torch: { python: PYTHON, imageSize: 56, device: 'cpu', precision: 'fp32', processes },
});

async function create(processes: number, name: string): Promise<number> {
  const [run] = await call('runs:create', { config: config(processes, name) as MethodInput<'runs:create'>['config'] });
  return run!.id;
}

async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const latestStep = (runId: number): number => {
  const file = join(backend.store.getRun(runId)!.runDir, 'checkpoints', 'latest.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { step: number }).step : 0;
};

/** Live processes whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // state, ppid, ...
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

it('torch.processes / torch.devices: bad combinations are refused with the field named', () => {
  const base = { datasetId: 1, engine: 'torch', baseModel: '/m' };
  const issue = (torch: object) => {
    const r = trainConfigSchema.safeParse({ ...base, torch });
    return r.success ? null : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
  };
  expect(issue({ processes: 2 })).toBeNull();
  expect(issue({ devices: [0, 1] })).toBeNull();
  expect(issue({ devices: 'all' })).toBeNull();
  expect(issue({ processes: 0 })).toMatch(/^torch\.processes: /);
  expect(issue({ processes: 1.5 })).toMatch(/^torch\.processes: /);
  expect(issue({ devices: [] })).toMatch(/^torch\.devices: /);
  expect(issue({ devices: [0, 0] })).toBe('torch.devices: torch.devices lists a GPU twice: 0,0.');
  expect(issue({ devices: [0, 1], device: 'cpu' })).toBe('torch.devices: torch.devices picks GPUs, but torch.device is "cpu"; use torch.processes for processes on the CPU.');
  expect(issue({ devices: [0, 1], processes: 3 })).toBe('torch.processes: torch.processes (3) and torch.devices (0,1) disagree: one process runs per GPU, so set only one of them.');
  expect(issue({ processes: 2, device: 'mps' })).toBe('torch.processes: Apple MPS runs one process; set torch.processes to 1 (got 2).');
});

it('mdpo train --processes / --devices reach config.torch; bad values exit 3 naming the flag or field', async () => {
  const home = join(t.dir, 'cli-home');
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli([...args, '--home', home], { out: (s) => out.push(s), err: (s) => err.push(s), isTTY: false });
    return { code, out: out.join(''), err: err.join('') };
  };
  const base = join(t.dir, 'cli-model');
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, 'config.json'), '{}');
  expect((await cli('datasets', 'import', await writeTinyDataset(t.dir, 2))).code).toBe(0);
  const train = (...extra: string[]) => cli('train', '--dataset', '1', '--engine', 'torch', '--base', base, '--python', '/nonexistent/python', '--steps', '2', '--json', ...extra);
  const two = await train('--processes', '2');
  expect(two.code).toBe(1); // no interpreter: the run fails, but its config is stored
  const [run] = JSON.parse(two.out) as { config: { torch: { processes: number; devices: unknown; python: string } } }[];
  expect(run!.config.torch).toMatchObject({ processes: 2, devices: null, python: '/nonexistent/python' });
  const gpus = await train('--devices', '0,1');
  expect((JSON.parse(gpus.out) as { config: { torch: { devices: unknown } } }[])[0]!.config.torch.devices).toEqual([0, 1]);
  const bad = await train('--devices', '0,x');
  expect(bad.code).toBe(3);
  expect(bad.err).toBe('mdpo: --devices: expected "all" or GPU indices like 0,1, got "0,x"\n');
  const clash = await train('--devices', '0,1', '--processes', '3');
  expect(clash.code).toBe(3);
  expect(clash.err).toBe('mdpo: config.torch.processes: torch.processes (3) and torch.devices (0,1) disagree: one process runs per GPU, so set only one of them.\n');
  const zero = await train('--processes', '0');
  expect(zero.code).toBe(3);
  expect(zero.err).toMatch(/^mdpo: config\.torch\.processes: /);
});

describeWithPython(`local torch runs on 2 processes (gloo, CPU)${PYTHON_SKIP_REASON}`, () => {
  beforeAll(async () => {
    model = buildTinyCheckpoint('llava', join(t.dir, 'llava'));
    backend = openBackend({ home: join(t.dir, 'home'), mode: 'cli', appRoot: REPO_ROOT });
    datasetId = (await call('datasets:import', { path: await writeGradientDataset(t.dir, 4) })).id;
    oneProcess = await create(1, 'one process');
    expect(await backend.supervisor.waitFor(oneProcess)).toBe('completed');
  });
  afterAll(async () => {
    await backend?.close();
    t.cleanup();
  });

  it('2 processes, paused after step 1 and resumed: the same adapters and curves as 1 process; rank 0 alone reports', async () => {
    const id = await create(2, 'two processes');
    await until('step 1', () => backend.store.getRun(id)!.step >= 1);
    await call('runs:pause', { runId: id });
    await until('paused', () => backend.store.getRun(id)!.status === 'paused');
    const pausedAt = backend.store.getRun(id)!.step;
    await new Promise((r) => setTimeout(r, 1500)); // both ranks wait (they meet once a second)
    expect(backend.store.getRun(id)!.step).toBe(pausedAt);
    await call('runs:resume', { runId: id });
    expect(await backend.supervisor.waitFor(id)).toBe('completed');
    const maxDiff = (await expectSameRun(backend, id, oneProcess)).adapter;
    console.log(`2 processes vs 1: adapter max |diff| ${maxDiff.toExponential(2)}`);
    const log = readFileSync(join(backend.store.getRun(id)!.runDir, 'engine.log'), 'utf8');
    expect(log).toContain('[app] 2 processes (torch.distributed.run)');
    expect(log).not.toContain('[stdout, not protocol]'); // rank 1 is silent on stdout
    expect(pausedAt).toBeLessThan(STEPS);
    const detail = await call('runs:get', { runId: id });
    expect(detail.status).toBe('completed');
  });

  it('SIGKILL of the launcher after step 2: every rank dies, the run is interrupted, and resuming it ends as if never killed', async () => {
    const id = await create(2, 'killed');
    await until('the checkpoint of step 2', () => latestStep(id) >= 2);
    const launcher = backend.store.getRun(id)!.trainerPid!; // ready's pid: the launcher (trainer.py)
    const ranks = childrenOf(launcher);
    expect(ranks).toHaveLength(2);
    process.kill(launcher, 'SIGKILL');
    expect(await backend.supervisor.waitFor(id)).toBe('interrupted');
    expect(backend.store.getRun(id)!.error!.message).toMatch(/killed by SIGKILL/);
    await until('the ranks to die with the launcher', () => !ranks.some(alive), 10_000);
    const at = latestStep(id);
    expect(at).toBeGreaterThanOrEqual(2);
    expect(at).toBeLessThan(STEPS);
    await call('runs:resume', { runId: id });
    expect(await backend.supervisor.waitFor(id)).toBe('completed');
    await expectSameRun(backend, id, oneProcess);
  });

  it.skipIf(existsSync('/dev/nvidia0'))('torch.devices "all" on a machine without a GPU: failed before training, with the launcher\'s reason', async () => {
    const [run] = await call('runs:create', { config: { ...config(1, 'all GPUs'), torch: { python: PYTHON, imageSize: 56, devices: 'all' } } as MethodInput<'runs:create'>['config'] });
    expect(await backend.supervisor.waitFor(run!.id)).toBe('failed');
    const error = backend.store.getRun(run!.id)!.error!;
    expect(error.name).toBe('EngineStartError');
    expect(error.message).toContain(`The torch engine (${PYTHON} -m torch.distributed.run --standalone --nproc-per-node gpu --max-restarts 0 -m mdpo_torch.trainer) exited before it started:`);
    expect(error.message).toContain('ValueError: Cuda is not available.');
  });

  it('cancel reaches both ranks: cancelled with a checkpoint, the launcher and the ranks gone', async () => {
    const id = await create(2, 'cancelled');
    await until('step 1', () => backend.store.getRun(id)!.step >= 1);
    const launcher = backend.store.getRun(id)!.trainerPid!;
    const ranks = childrenOf(launcher);
    await call('runs:cancel', { runId: id });
    expect(await backend.supervisor.waitFor(id)).toBe('cancelled');
    const run = backend.store.getRun(id)!;
    expect(latestStep(id)).toBe(run.step);
    expect(run.step).toBeLessThan(STEPS);
    await until('the ranks to exit', () => ![launcher, ...ranks].some(alive), 10_000);
  });

  it('app quit (SIGTERM to the launcher) mid-run: interrupted, no rank left running', async () => {
    const id = await create(2, 'quit');
    await until('step 1', () => backend.store.getRun(id)!.step >= 1);
    const launcher = backend.store.getRun(id)!.trainerPid!;
    const ranks = childrenOf(launcher);
    expect(ranks).toHaveLength(2);
    await backend.supervisor.shutdown();
    expect(backend.store.getRun(id)!.status).toBe('interrupted');
    await until('the ranks to exit', () => ![launcher, ...ranks].some(alive), 10_000);
  });
});
