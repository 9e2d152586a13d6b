/**
 * The torch engine's own test suite (python/tests, pytest) under the project's Python
 * environment: tiny random checkpoints of five families train, resume after SIGKILL, export
 * adapters PEFT loads, and refuse bad inputs (see python/mdpo_torch/README.md). This file
 * fails when pytest fails or collects nothing; it skips only where the environment is missing
 * locally, and never in CI (test/python-env.ts).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PYTHON, PYTHON_SKIP_REASON, REPO_ROOT, describeWithPython } from './python-env';

const PYTHON_DIR = join(REPO_ROOT, 'python');

/** "12 passed, 1 warning in 3.2s" -> { passed: 12, failed: 0, errors: 0, skipped: 0 } */
export function parsePytestSummary(output: string): Record<'passed' | 'failed' | 'errors' | 'skipped', number> {
  const last = output.trim().split('\n').filter((l) => /\d+ (passed|failed|error|skipped)/.test(l)).pop() ?? '';
  const count = (word: string) => Number(new RegExp(`(\\d+) ${word}`).exec(last)?.[1] ?? 0);
  return { passed: count('passed'), failed: count('failed'), errors: count('errors?'), skipped: count('skipped') };
}

it('reads pytest summaries', () => {
  expect(parsePytestSummary('...\n== 12 passed, 2 warnings in 3.1s ==')).toEqual({ passed: 12, failed: 0, errors: 0, skipped: 0 });
  expect(parsePytestSummary('== 1 failed, 3 passed, 1 skipped, 2 errors in 9s ==')).toEqual({ passed: 3, failed: 1, errors: 2, skipped: 1 });
  expect(parsePytestSummary('== no tests ran in 0.01s ==')).toEqual({ passed: 0, failed: 0, errors: 0, skipped: 0 });
});

describeWithPython(`torch engine (python/tests under pytest)${PYTHON_SKIP_REASON}`, () => {
  it('passes every test, and collects some', () => {
    const run = spawnSync(PYTHON!, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests'], {
      cwd: PYTHON_DIR,
      env: { ...process.env, PYTHONPATH: [PYTHON_DIR, process.env.PYTHONPATH].filter(Boolean).join(':'), HF_HUB_OFFLINE: '1', PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
      timeout: 20 * 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const output = `${run.stdout ?? ''}\n${run.stderr ?? ''}`;
    const summary = parsePytestSummary(run.stdout ?? '');
    // The whole output on failure: pytest's own report says which test and why.
    expect({ status: run.status, ...summary }, output.slice(-20_000)).toMatchObject({ status: 0, failed: 0, errors: 0, skipped: 0 });
    expect(summary.passed).toBeGreaterThanOrEqual(55); // python/tests holds 55 today: a lost file shows here
  }, 21 * 60_000);
});
