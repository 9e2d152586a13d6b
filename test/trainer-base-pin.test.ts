/**
 * An app upgrade that replaces resources/base-model must not change what an interrupted run
 * resumes with (issue 18, item 1): a run on the built-in base computes with its own copy.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PINNED_BASE, pinBaseModel, runBaseModelDir } from '../src/main/trainer/base-model';
import { BUILTIN_BASE, type TrainConfig } from '../src/shared/schemas';

const root = await fs.mkdtemp(join(os.tmpdir(), 'mdpo-pin-'));
afterAll(() => fs.rm(root, { recursive: true, force: true }));

async function install(appRoot: string, weights: string): Promise<void> {
  const dir = join(appRoot, 'resources', 'base-model');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(join(dir, 'config.json'), '{"format":"x"}');
  await fs.writeFile(join(dir, 'model.safetensors'), weights);
  await fs.writeFile(join(dir, 'tokenizer.json'), `{"v":"${weights}"}`);
}

const builtin = { baseModel: BUILTIN_BASE } as TrainConfig;

describe('the built-in base model is pinned per run', () => {
  it('copies it at the first start; after an upgrade the run still loads the weights it was trained with', async () => {
    const appRoot = join(root, 'app');
    const runDir = join(root, 'run1');
    await install(appRoot, 'weights-v1');
    const job = { config: builtin, appRoot, runDir };
    const first = await pinBaseModel(job);
    expect(first).toEqual({ dir: join(runDir, PINNED_BASE), pinnedNow: true });
    await install(appRoot, 'weights-v2'); // the upgrade
    const again = await pinBaseModel(job); // the resume
    expect(again).toEqual({ dir: join(runDir, PINNED_BASE), pinnedNow: false });
    expect(await fs.readFile(join(again.dir, 'model.safetensors'), 'utf8')).toBe('weights-v1');
    expect(await fs.readFile(join(again.dir, 'tokenizer.json'), 'utf8')).toBe('{"v":"weights-v1"}');
    expect(await runBaseModelDir(job)).toBe(again.dir); // evaluate and ask too
  });

  it('replaces an incomplete copy (no config.json), leaves no temporary folder, and never copies a user folder', async () => {
    const appRoot = join(root, 'app2');
    const runDir = join(root, 'run2');
    await install(appRoot, 'w');
    await fs.mkdir(join(runDir, PINNED_BASE), { recursive: true });
    await fs.writeFile(join(runDir, PINNED_BASE, 'model.safetensors'), 'half');
    const got = await pinBaseModel({ config: builtin, appRoot, runDir });
    expect(got.pinnedNow).toBe(true);
    expect(await fs.readFile(join(got.dir, 'model.safetensors'), 'utf8')).toBe('w');
    expect((await fs.readdir(runDir)).sort()).toEqual([PINNED_BASE]);

    const user = { config: { baseModel: '/models/llava' } as TrainConfig, appRoot, runDir: join(root, 'run3') };
    expect(await pinBaseModel(user)).toEqual({ dir: '/models/llava', pinnedNow: false });
    expect(await runBaseModelDir(user)).toBe('/models/llava');
    await expect(fs.stat(join(root, 'run3'))).rejects.toThrow();
  });

  it('a run from before pinning (no copy) evaluates with the installed base', async () => {
    const appRoot = join(root, 'app3');
    await install(appRoot, 'w');
    expect(await runBaseModelDir({ config: builtin, appRoot, runDir: join(root, 'run4') })).toBe(join(appRoot, 'resources', 'base-model'));
  });

  it('says what is wrong when the shipped base cannot be copied', async () => {
    await expect(pinBaseModel({ config: builtin, appRoot: join(root, 'missing'), runDir: join(root, 'run5') })).rejects.toThrow(
      /Cannot copy the built-in base model from .*missing\/resources\/base-model into the run/,
    );
    expect(await fs.readdir(join(root, 'run5'))).toEqual([]);
  });
});
