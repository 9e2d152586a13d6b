/**
 * The supervisor's torch path before the engine trains (src/main/python/launch.ts): a missing
 * interpreter and an engine that cannot start end the run `failed` with one clear message;
 * cancel and shutdown while the images render end it `cancelled` / `interrupted`, like the
 * tfjs child. Real store, real handlers.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openBackend } from '../src/main/backend-context';
import { dispatch } from '../src/main/api/dispatch';
import { notFoundMessage } from '../src/main/python/doctor';
import { findPython } from '../src/main/python/interpreter';
import { launchTorch } from '../src/main/python/launch';
import type { RunDetail } from '../src/shared/api';
import type { TrainConfigInput } from '../src/shared/schemas';
import { callApi, REPO_ROOT, tempDir, writeTinyDataset } from './api-fixtures';
import { describeWithPython, PYTHON, PYTHON_SKIP_REASON } from './python-env';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** One API call through the validating dispatcher; throws its error. */
const call = callApi;

async function setup(torchLauncher?: typeof launchTorch) {
  const t = tempDir('mdpo-torch-sup-');
  const backend = openBackend({ home: t.dir, mode: 'cli', appRoot: REPO_ROOT, torchLauncher });
  cleanups.push(t.cleanup, () => backend.close());
  const model = join(t.dir, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{}');
  const imported = await call(backend, 'datasets:import', { path: await writeTinyDataset(t.dir, 3) });
  const create = async (config: Partial<TrainConfigInput>): Promise<RunDetail> => {
    const runId = (await call(backend, 'runs:create', { config: { datasetId: imported.id, engine: 'torch', baseModel: model, maxSteps: 2, torch: { imageSize: 16 }, ...config } }))[0]!.id;
    await backend.supervisor.waitFor(runId);
    return call(backend, 'runs:get', { runId });
  };
  return { backend, create, home: t.dir };
}

describe('torch runs that cannot train', () => {
  it('no interpreter: failed with the doctor\'s message, nothing rendered', async () => {
    const { create, backend } = await setup();
    const run = await create({ torch: { imageSize: 16, python: '/nonexistent/python' } });
    expect(run.status).toBe('failed');
    expect(run.error!.name).toBe('PythonNotFoundError');
    expect(run.error!.message).toBe(notFoundMessage(findPython({ explicit: '/nonexistent/python', explicitLabel: 'torch.python', appRoot: REPO_ROOT }), REPO_ROOT));
    expect(run.error!.message).toMatch(/^torch\.python \/nonexistent\/python is not there\. .*npm run setup:python/);
    expect(run.checkpoints).toEqual([]);
    expect(existsSync(join(backend.store.getRun(run.id)!.runDir, 'torch-images'))).toBe(false);
  });

  it('the built-in base is refused before a run exists', async () => {
    const { backend } = await setup();
    const r = await dispatch(backend.handlers, 'runs:create', { config: { datasetId: 1, engine: 'torch' } });
    expect(r).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'config.baseModel', message: expect.stringContaining('The torch engine trains a Hugging Face checkpoint folder') } });
    expect(backend.store.listRuns()).toEqual([]);
  });

  it('cancel while the images render: cancelled; shutdown then: interrupted', async () => {
    // The render waits until the run is stopped, so the stop always lands in that phase.
    const slow: typeof launchTorch = (job, options) =>
      launchTorch(job, { ...options, render: (o) => new Promise((_, reject) => o.signal!.addEventListener('abort', () => reject(o.signal!.reason))) });
    const { backend, home } = await setup(slow);
    const start = async () => {
      return (await call(backend, 'runs:create', { config: { datasetId: 1, engine: 'torch', baseModel: join(home, 'model'), torch: { imageSize: 16 } } }))[0]!.id;
    };
    const a = await start();
    backend.supervisor.cancel(a);
    expect(await backend.supervisor.waitFor(a)).toBe('cancelled');
    expect(backend.store.getRun(a)!.error).toBeNull();

    const b = await start();
    await backend.supervisor.shutdown();
    expect(backend.store.getRun(b)!.status).toBe('interrupted');
    expect(backend.store.getRun(b)!.error!.message).toBe('The trainer process was killed by SIGTERM before the run finished. Resume continues from the last checkpoint.');
  });
});

describeWithPython(`a torch engine that cannot start${PYTHON_SKIP_REASON}`, () => {
  it('a Python without torch: failed, with its stderr and the doctor hint', async () => {
    const { create, home } = await setup();
    const venv = join(home, 'bare-venv');
    execFileSync(PYTHON!, ['-m', 'venv', '--without-pip', venv]);
    const run = await create({ torch: { imageSize: 16, python: join(venv, 'bin', 'python') } });
    const python = join(venv, 'bin', 'python');
    expect(run.status).toBe('failed');
    // The engine starts (standard library only), then reports the import that failed; the app adds how to fix it.
    expect(run.error!.name).toBe('ModuleNotFoundError');
    const [first, ...rest] = run.error!.message.split('\n');
    expect(first).toMatch(/^No module named '(torch|transformers|peft|accelerate|safetensors|numpy|PIL)'$/);
    expect(rest.join('\n')).toBe(`The Python at ${python} lacks a package the torch engine needs. Run \`mdpo doctor\` to check it (fix: \`cd "${REPO_ROOT}" && npm run setup:python\`).`);
    expect(run.checkpoints).toEqual([]);
  });

  it('an interpreter that dies before the protocol starts: failed with its stderr', async () => {
    const { create, home } = await setup();
    const python = join(home, 'dying-python');
    writeFileSync(python, '#!/bin/sh\necho "Fatal Python error: failed to get random numbers" >&2\nexit 1\n');
    chmodSync(python, 0o755);
    const run = await create({ torch: { imageSize: 16, python } });
    expect(run.status).toBe('failed');
    expect(run.error!.name).toBe('EngineStartError');
    expect(run.error!.message).toBe(`The torch engine (${python} -m mdpo_torch.trainer) exited before it started:\nFatal Python error: failed to get random numbers\nRun \`mdpo doctor\` to check the Python environment (fix: \`cd "${REPO_ROOT}" && npm run setup:python\`).`);
  });
});
