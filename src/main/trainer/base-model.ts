/**
 * Which base model a run computes with, pinned for the run's lifetime.
 *
 * The built-in base lives in the app's install folder (resources/base-model), which an app
 * upgrade replaces. A run trained on it gets its own copy, `<runDir>/base-model` (about 1.6 MB),
 * at its first start: a resume, an evaluation or a question after an upgrade uses the weights
 * and tokenizer the run was trained with, never the new ones. A user's model folder is not
 * copied (gigabytes); the checkpoint's input fingerprints (src/core/train/fingerprint.ts) refuse
 * a resume after it changed.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { BUILTIN_BASE, type TrainConfig } from '../../shared/schemas';
import type { TrainJob } from './protocol';

export const PINNED_BASE = 'base-model';

/** The configured base: the shipped one in the install folder, or the user's folder. */
export function baseModelDir(config: TrainConfig, appRoot: string): string {
  return config.baseModel === BUILTIN_BASE ? join(appRoot, 'resources', 'base-model') : config.baseModel;
}

/** The run's own copy of the base model, when it has one. */
async function pinned(runDir: string): Promise<string | null> {
  const dir = join(runDir, PINNED_BASE);
  return (await fs.stat(join(dir, 'config.json')).then(() => true, () => false)) ? dir : null;
}

/**
 * Before training: the folder to load the base model from. For the built-in base, copies the
 * shipped folder into the run on its first start (written under a temporary name, then renamed,
 * so an interrupted copy is never taken for a complete one).
 */
export async function pinBaseModel(job: Pick<TrainJob, 'config' | 'appRoot' | 'runDir'>): Promise<{ dir: string; pinnedNow: boolean }> {
  const have = await pinned(job.runDir);
  if (have) return { dir: have, pinnedNow: false };
  const source = baseModelDir(job.config, job.appRoot);
  if (job.config.baseModel !== BUILTIN_BASE) return { dir: source, pinnedNow: false };
  const final = join(job.runDir, PINNED_BASE);
  const tmp = `${final}.tmp-${process.pid}-${Date.now()}`;
  await fs.mkdir(tmp, { recursive: true });
  try {
    for (const entry of await fs.readdir(source, { withFileTypes: true })) {
      if (entry.isFile()) await fs.copyFile(join(source, entry.name), join(tmp, entry.name));
    }
    await fs.rm(final, { recursive: true, force: true }); // a folder without config.json: incomplete
    await fs.rename(tmp, final);
  } catch (error) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw new Error(`Cannot copy the built-in base model from ${source} into the run (${final}): ${(error as Error).message}`, { cause: error });
  }
  return { dir: final, pinnedNow: true };
}

/** After training (evaluate, ask): the base the run was trained with. */
export async function runBaseModelDir(job: Pick<TrainJob, 'config' | 'appRoot' | 'runDir'>): Promise<string> {
  return (await pinned(job.runDir)) ?? baseModelDir(job.config, job.appRoot);
}
