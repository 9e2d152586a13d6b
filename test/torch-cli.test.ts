/**
 * The CLI's side of the torch engine: `train --engine torch --python ...` reaches the run's
 * config and the supervisor's torch launch; a bad engine or the built-in base is refused
 * with exit 3 before a run exists; `help` documents doctor and the flags.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { diffConfigs } from '../src/main/api/handlers';
import { runCli } from '../src/main/cli';
import { BUILTIN_BASE, trainConfigSchema } from '../src/shared/schemas';
import { tempDir, writeTinyDataset } from './api-fixtures';

const t = tempDir('mdpo-torch-cli-');
afterAll(() => t.cleanup());
const home = join(t.dir, 'home');
const model = join(t.dir, 'model');

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args, '--home', home], { out: (s) => out.push(s), err: (s) => err.push(s), isTTY: false });
  return { code, out: out.join(''), err: err.join('') };
}

beforeAll(async () => {
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{}');
  expect((await cli('datasets', 'import', await writeTinyDataset(t.dir, 2))).code).toBe(0);
});

describe('mdpo train --engine torch', () => {
  it('the flags reach the run config; a missing interpreter fails the run with the fix (exit 1)', async () => {
    const r = await cli('train', '--dataset', '1', '--engine', 'torch', '--base', model, '--python', '/nonexistent/python', '--steps', '2', '--json');
    expect(r.code).toBe(1);
    const [run] = JSON.parse(r.out) as { status: string; config: { engine: string; baseModel: string; torch: { python: string } }; error: { name: string; message: string } }[];
    expect(run!.config.engine).toBe('torch');
    expect(run!.config.baseModel).toBe(model);
    expect(run!.config.torch.python).toBe('/nonexistent/python');
    expect(run!.status).toBe('failed');
    expect(run!.error.name).toBe('PythonNotFoundError');
    expect(run!.error.message).toMatch(/^torch\.python \/nonexistent\/python is not there\. Point it at a Python with torch, transformers, peft and accelerate, or drop it to use the project's environment \(`cd ".*" && npm run setup:python` creates it\)\.$/);
  });

  it('an unknown engine, torch on the built-in base or on a tfjs backend: exit 3, no run', async () => {
    const bad = await cli('train', '--dataset', '1', '--engine', 'jax');
    expect(bad.code).toBe(3);
    expect(bad.err).toMatch(/^mdpo: config\.engine: /);
    const builtin = await cli('train', '--dataset', '1', '--engine', 'torch');
    expect(builtin.code).toBe(3);
    expect(builtin.err).toBe('mdpo: config.baseModel: The torch engine trains a Hugging Face checkpoint folder; the built-in world base runs on the tfjs engine.\n');
    const webgpu = await cli('train', '--dataset', '1', '--engine', 'torch', '--base', model, '--backend', 'webgpu');
    expect(webgpu.code).toBe(3);
    expect(webgpu.err).toBe('mdpo: config.backend: The torch engine runs on auto, cuda or cpu (Apple MPS: torch.device "mps"); "webgpu" is a tfjs backend.\n');
    const runs = await cli('runs', 'list', '--json');
    expect((JSON.parse(runs.out) as unknown[]).length).toBe(1);
  });

  it('the config diff names the engine and the torch settings that differ', () => {
    const tfjs = trainConfigSchema.parse({ datasetId: 1 });
    const torch = trainConfigSchema.parse({ datasetId: 1, engine: 'torch', baseModel: model, torch: { precision: 'bf16' } });
    expect(diffConfigs([tfjs, torch])).toEqual([
      { path: 'baseModel', values: [BUILTIN_BASE, model] },
      { path: 'engine', values: ['tfjs', 'torch'] },
      { path: 'torch.precision', values: ['auto', 'bf16'] },
    ]);
  });

  it('help documents doctor, --engine and --python', async () => {
    const r = await cli('help');
    expect(r.out).toContain('doctor [--python <interpreter>]');
    expect(r.out).toContain('--engine <tfjs|torch>');
    expect(r.out).toContain('--python <interpreter>');
  });
});
