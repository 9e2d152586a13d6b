/**
 * `mdpo doctor` (src/main/python/doctor.ts): the real Python environment, a missing
 * interpreter, a Python without the engine's packages, one that crashes, none at all. Each
 * failure asserts the ONE message and its fix command.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend } from '../src/main/backend-context';
import { runCli } from '../src/main/cli';
import { formatDoctor, readPins, runDoctor, setupCommand } from '../src/main/python/doctor';
import { findPython } from '../src/main/python/interpreter';
import { describeWithPython, PYTHON, PYTHON_SKIP_REASON, REPO_ROOT } from './python-env';

const tmp = mkdtempSync(join(tmpdir(), 'mdpo-doctor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FIX = `cd "${REPO_ROOT}" && npm run setup:python`;

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), isTTY: false }, out, err };
}

describe('finding the interpreter', () => {
  it('takes --python, then MDPO_PYTHON, then <appRoot>/.venv, then python3 on PATH', () => {
    const root = join(tmp, 'app');
    const bin = join(tmp, 'bin');
    mkdirSync(join(root, '.venv', 'bin'), { recursive: true });
    mkdirSync(bin, { recursive: true });
    for (const p of [join(root, '.venv', 'bin', 'python'), join(bin, 'python3'), join(tmp, 'chosen')]) {
      writeFileSync(p, '#!/bin/sh\n');
      chmodSync(p, 0o755);
    }
    const env = { PATH: bin };
    expect(findPython({ appRoot: root, env, explicit: join(tmp, 'chosen') }).found).toEqual({ path: join(tmp, 'chosen'), source: 'option' });
    expect(findPython({ appRoot: root, env: { ...env, MDPO_PYTHON: join(bin, 'python3') } }).found).toEqual({ path: join(bin, 'python3'), source: 'MDPO_PYTHON' });
    expect(findPython({ appRoot: root, env }).found).toEqual({ path: join(root, '.venv', 'bin', 'python'), source: 'venv' });
    expect(findPython({ appRoot: join(tmp, 'no-app'), env }).found).toEqual({ path: join(bin, 'python3'), source: 'PATH' });
    // Not executable: skipped on PATH, and named.
    chmodSync(join(bin, 'python3'), 0o644);
    const none = findPython({ appRoot: join(tmp, 'no-app'), env });
    expect(none.found).toBeNull();
    expect(none.searched).toEqual(['MDPO_PYTHON: not set', `${join(tmp, 'no-app', '.venv', 'bin', 'python')}: missing`, 'python3 on PATH: not found', 'python on PATH: not found']);
  });

  it('never falls back from an explicit interpreter that is not there', () => {
    const r = findPython({ appRoot: REPO_ROOT, env: { MDPO_PYTHON: '/nonexistent/python' } });
    expect(r.found).toBeNull();
    expect(r.refused).toBe('MDPO_PYTHON=/nonexistent/python is not there');
  });
});

describe('doctor: what is wrong, and the one command that fixes it', () => {
  it('a missing interpreter path', async () => {
    const d = await runDoctor({ appRoot: REPO_ROOT, explicit: '/nonexistent/python', env: {} });
    expect(d.ok).toBe(false);
    expect(d.python).toBeNull();
    expect(d.problem).toEqual({
      message: `--python /nonexistent/python is not there. Point it at a Python with torch, transformers, peft and accelerate, or drop it to use the project's environment (\`${FIX}\` creates it).`,
      fix: FIX,
    });
  });

  it('no Python anywhere', async () => {
    const root = join(tmp, 'empty-app');
    mkdirSync(join(root, 'python'), { recursive: true });
    const d = await runDoctor({ appRoot: root, env: { PATH: join(tmp, 'empty-path') } });
    const fix = setupCommand(root);
    expect(d.problem).toEqual({
      message: `No Python found for the torch engine (looked at: MDPO_PYTHON: not set; ${join(root, '.venv', 'bin', 'python')}: missing; python3 on PATH: not found; python on PATH: not found). Run \`${fix}\` to create the project's environment (.venv with the pinned torch, transformers, peft and accelerate).`,
      fix,
    });
    expect(formatDoctor(d)).toContain(`not ready: No Python found for the torch engine`);
  });

  it('an interpreter that crashes names its stderr', async () => {
    const broken = join(tmp, 'broken-python');
    writeFileSync(broken, '#!/bin/sh\necho "Fatal Python error: init_fs_encoding" >&2\nexit 3\n');
    chmodSync(broken, 0o755);
    const d = await runDoctor({ appRoot: REPO_ROOT, explicit: broken, env: {} });
    expect(d.ok).toBe(false);
    expect(d.problem!.message).toMatch(new RegExp(`^The Python at ${broken} \\(option\\) failed \\(Command failed: .*: Fatal Python error: init_fs_encoding\\)\\. Run \``));
    expect(d.problem!.fix).toBe(FIX);
  });
});

describe('app:doctor (the API channel behind the header)', () => {
  it('answers from a cache until asked to refresh', async () => {
    const home = join(tmp, 'api-home');
    const backend = openBackend({ home, mode: 'browser', appRoot: REPO_ROOT });
    const saved = process.env.MDPO_PYTHON;
    try {
      process.env.MDPO_PYTHON = '/nonexistent/first';
      const first = await dispatch(backend.handlers, 'app:doctor', undefined);
      expect(first).toMatchObject({ ok: true, value: { ok: false, problem: { message: expect.stringMatching(/^MDPO_PYTHON=\/nonexistent\/first is not there\./), fix: FIX } } });
      process.env.MDPO_PYTHON = '/nonexistent/second';
      expect(await dispatch(backend.handlers, 'app:doctor', {})).toEqual(first);
      const fresh = await dispatch(backend.handlers, 'app:doctor', { refresh: true });
      expect(fresh).toMatchObject({ ok: true, value: { problem: { message: expect.stringMatching(/^MDPO_PYTHON=\/nonexistent\/second is not there\./) } } });
      expect(await dispatch(backend.handlers, 'app:doctor', { refresh: 'yes' })).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'refresh' } });
    } finally {
      if (saved === undefined) delete process.env.MDPO_PYTHON;
      else process.env.MDPO_PYTHON = saved;
      await backend.close();
    }
  });
});

describeWithPython(`doctor with a real Python${PYTHON_SKIP_REASON}`, () => {
  it('a Python without the packages (a bare venv) gets the one message', async () => {
    const venv = join(tmp, 'bare-venv');
    execFileSync(PYTHON!, ['-m', 'venv', '--without-pip', venv]);
    const python = join(venv, 'bin', 'python');
    const version = execFileSync(python, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { encoding: 'utf8' }).trim();
    const d = await runDoctor({ appRoot: REPO_ROOT, explicit: python, env: {} });
    expect(d.ok).toBe(false);
    expect(d.python).toEqual({ path: python, source: 'option', version });
    expect(d.packages.map((p) => [p.name, p.version, p.error])).toEqual(
      ['torch', 'transformers', 'peft', 'accelerate', 'safetensors'].map((n) => [n, null, `ModuleNotFoundError: No module named '${n}'`]),
    );
    expect(d.problem).toEqual({
      message: `The Python at ${python} (Python ${version}, from option) lacks torch, transformers, peft, accelerate, safetensors. Run \`${FIX}\` to create the project's environment with the pinned versions, or set MDPO_PYTHON to a Python that has them.`,
      fix: FIX,
    });
    // The CLI: the same message, exit 1.
    const c = capture();
    expect(await runCli(['doctor', '--python', python], c.io)).toBe(1);
    expect(c.out.join('')).toContain(`not ready: ${d.problem!.message}`);
  });

  it('the project environment: versions at the pins, the devices torch sees', async () => {
    const d = await runDoctor({ appRoot: REPO_ROOT, explicit: PYTHON, env: {} });
    expect(d.problem).toBeNull();
    expect(d.ok).toBe(true);
    const pins = readPins(REPO_ROOT);
    for (const p of d.packages) {
      expect(p.error).toBeNull();
      expect(p.pinned).toBe(pins.get(p.name));
    }
    const torch = execFileSync(PYTHON!, ['-c', 'import torch; print(torch.__version__, torch.cuda.device_count(), torch.get_num_threads())'], { encoding: 'utf8' }).trim().split(' ');
    const hasTorchvision = execFileSync(PYTHON!, ['-c', 'import importlib.util as u; print(u.find_spec("torchvision") is not None)'], { encoding: 'utf8' }).trim() === 'True';
    expect(d.warnings.some((w) => w.startsWith('torchvision is not installed: Qwen2-VL and Qwen2.5-VL folders cannot load'))).toBe(!hasTorchvision);
    expect(d.packages[0]!.version).toBe(torch[0]);
    expect(d.devices.cuda).toHaveLength(Number(torch[1]));
    expect(d.devices.cpuThreads).toBe(Number(torch[2]));
    expect(d.devices.cpuCount).toBe(cpus().length);
    expect(d.device).toBe(d.devices.cuda.length > 0 ? 'cuda' : d.devices.mps ? 'mps' : 'cpu');
    for (const g of d.devices.cuda) expect(g.memoryBytes).toBeGreaterThan(0);

    const c = capture();
    expect(await runCli(['doctor', '--json', '--python', PYTHON!], c.io)).toBe(0);
    const json = JSON.parse(c.out.join('')) as typeof d;
    expect(json.packages.map((p) => p.version)).toEqual(d.packages.map((p) => p.version));
    expect(formatDoctor(d)).toMatch(/ready: the torch engine can run here\.\n$/);
  });
});
