/**
 * `npm run setup:python` (scripts/setup-python.mjs): its refusals, each with a plain message,
 * and the fast path when the project's .venv already matches python/requirements.txt.
 * The refusals run on a copy of the script in a temp folder (so nothing touches the real .venv).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../src/core/hf/testing/helpers';
import { PYTHON, PYTHON_SKIP_REASON, REPO_ROOT, describeWithPython } from './python-env';

const run = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'setup-python.mjs');

async function setup(cwd: string, env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(cwd, 'scripts', 'setup-python.mjs')], { cwd, env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, out: stdout + stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, out: (err.stdout ?? '') + (err.stderr ?? '') };
  }
}

describe('setup:python refusals', () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    tmp = await tempDir('setup-python');
    await mkdir(join(tmp.dir, 'scripts'));
    await mkdir(join(tmp.dir, 'python'));
    await copyFile(SCRIPT, join(tmp.dir, 'scripts', 'setup-python.mjs'));
  });
  afterAll(async () => tmp?.cleanup());

  it('python/requirements.txt pins exact versions (the file in the repo)', async () => {
    const lines = (await readFile(join(REPO_ROOT, 'python', 'requirements.txt'), 'utf8')).split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(7);
    for (const l of lines) expect(l).toMatch(/^[A-Za-z0-9_.-]+==[0-9][^\s]*$/);
    for (const pin of ['torch==2.15.0', 'transformers==5.23.0', 'peft==0.21.2', 'accelerate==1.15.0', 'trl==1.16.0', 'safetensors==0.8.0', 'tokenizers==0.23.3']) expect(lines).toContain(pin);
  });

  it('without a usable Python it says which interpreters it tried and what to install', async () => {
    await writeFile(join(tmp.dir, 'python', 'requirements.txt'), 'numpy==2.4.6\n');
    const r = await setup(tmp.dir, { MDPO_BOOTSTRAP_PYTHON: join(tmp.dir, 'no-such-python') });
    expect(r.code).toBe(1);
    expect(r.out).toContain('needs CPython >= 3.10 to create .venv');
    expect(r.out).toContain('no-such-python: not found');
  });

  it.skipIf(!PYTHON)('a requirement that is not an exact pin is refused, naming the line', async () => {
    await writeFile(join(tmp.dir, 'python', 'requirements.txt'), '# comment\nnumpy>=2\n');
    // A "venv" whose interpreter is the project's Python: enough to reach the requirements check.
    await mkdir(join(tmp.dir, '.venv', 'bin'), { recursive: true });
    await symlink(PYTHON!, join(tmp.dir, '.venv', 'bin', 'python'));
    const r = await setup(tmp.dir);
    expect(r.code).toBe(1);
    expect(r.out).toContain('python/requirements.txt: "numpy>=2" is not an exact pin (name==version)');
  });
});

describeWithPython(`setup:python on the project's environment${PYTHON_SKIP_REASON}`, () => {
  it('an up-to-date .venv is left alone, quickly (stamp + metadata check, no pip)', async () => {
    if (process.env.MDPO_PYTHON) return; // the environment is elsewhere; .venv may not exist
    const { stdout } = await run(process.execPath, [SCRIPT], { cwd: REPO_ROOT, timeout: 120_000 });
    // The first call may install (a fresh clone); the second must find everything in place.
    const again = await run(process.execPath, [SCRIPT], { cwd: REPO_ROOT, timeout: 60_000 });
    expect(stdout + again.stdout).toContain('[setup:python]');
    expect(again.stdout).toMatch(/\.venv is up to date with python\/requirements\.txt \(Python 3\.\d+\.\d+; \d+ ms\)/);
  });
});
