/**
 * The project's Python environment, for the tests that need it (HF golden fixtures, the torch
 * engine). It is optional for users and mandatory in CI: where it is missing, these tests
 * skip locally and FAIL under CI=true, so CI can never pass by skipping them.
 *
 * Found at $MDPO_PYTHON, else <repo>/.venv/bin/python (created by `npm run setup:python`).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe } from 'vitest';

export const REPO_ROOT = resolve(__dirname, '..');

function findPython(): string | null {
  const fromEnv = process.env.MDPO_PYTHON;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : null;
  const venv = join(REPO_ROOT, '.venv', process.platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
  return existsSync(venv) ? venv : null;
}

/** The interpreter, or null where the environment does not exist. */
export const PYTHON: string | null = findPython();

const inCi = process.env.CI === 'true';

if (PYTHON === null && inCi) {
  throw new Error(
    'CI=true but the project Python environment is missing (.venv or $MDPO_PYTHON): run `npm run setup:python` first. ' +
      'Tests that need Python never skip in CI.',
  );
}

/** `describe` where the Python environment exists; `describe.skip` (with the reason in the name) elsewhere. */
export const describeWithPython: typeof describe = (PYTHON ? describe : describe.skip) as typeof describe;

export const PYTHON_SKIP_REASON = PYTHON ? '' : ' (skipped: no Python environment; run `npm run setup:python`)';
