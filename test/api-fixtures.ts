/** Shared set-up for the API, server and CLI tests: a temp data folder and a tiny dataset. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend, type Backend } from '../src/main/backend-context';
import { runCli } from '../src/main/cli';
import type { ApiChannel, ApiEvent, ApiOutputs } from '../src/shared/api';
import type { MethodInput } from '../src/shared/schemas';

const here = dirname(fileURLToPath(import.meta.url));
export const FIXTURE_ENGINE = resolve(here, 'trainer-fixture-engine.ts');
export const REPO_ROOT = resolve(here, '..');

export function tempDir(prefix = 'mdpo-api-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A silkie-jsonl dataset of `n` records with small solid-colour PNGs. */
export async function writeTinyDataset(dir: string, n = 3): Promise<string> {
  const root = join(dir, 'tiny-dataset');
  mkdirSync(join(root, 'images'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const png = await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 40 * i, g: 100, b: 200 - 30 * i } } })
      .png()
      .toBuffer();
    writeFileSync(join(root, 'images', `${i}.png`), png);
    lines.push(JSON.stringify({ img_path: `images/${i}.png`, prompt: `<image>\nWhat is in picture ${i}?`, chosen: `A blue square number ${i}.`, rejected: `A red circle and a dog ${i}.` }));
  }
  writeFileSync(join(root, 'data.jsonl'), lines.join('\n') + '\n');
  return root;
}

export function openTestBackend(home: string, stepMs = 10): Backend {
  return openBackend({
    home,
    mode: 'browser',
    appRoot: REPO_ROOT,
    trainerEnv: { MDPO_TRAINER_ENGINE: FIXTURE_ENGINE, FIXTURE_STEP_MS: String(stepMs) },
  });
}

/** One typed API call through the back end's dispatcher, as the preload or the server makes it; a refusal throws with the channel. */
export async function callApi<C extends ApiChannel>(backend: Backend, channel: C, input: MethodInput<C>): Promise<ApiOutputs[C]> {
  const r = await dispatch(backend.handlers, channel, input);
  if (!r.ok) throw new Error(`${channel}: ${r.error.message}`);
  return r.value as ApiOutputs[C];
}

/** `mdpo <args> --home <home>` in this process: the exit code and what it printed. */
export async function cliIn(home: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli([...args, '--home', home], { out: (s) => out.push(s), err: (s) => err.push(s), isTTY: false });
  return { code, out: out.join(''), err: err.join('') };
}

/**
 * SIGKILLs run `runId`'s trainer once it reports step `step` or later, and returns the step it
 * reported. If the run ends first, returns -1 (completed), -2 (failed) or 0 (anything else), so
 * the caller's `>= step` check fails at once instead of waiting for a step that never comes.
 */
export function killTrainerAtStep(backend: Backend, runId: number, step: number): Promise<number> {
  return new Promise<number>((resolve) => {
    const off = backend.subscribe((e: ApiEvent) => {
      if (e.type === 'run:progress' && e.runId === runId && e.step >= step) {
        off();
        process.kill(backend.store.getRun(runId)!.trainerPid!, 'SIGKILL');
        resolve(e.step);
      }
    });
    void backend.supervisor.waitFor(runId).then((status) => resolve(-1 - ['completed', 'failed'].indexOf(status)));
  });
}
