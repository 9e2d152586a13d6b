#!/usr/bin/env node
/**
 * `npm run setup:python`: creates the project's pinned Python environment in <repo>/.venv from
 * python/requirements.txt (exact pins). Optional for users; mandatory in CI (.ci/run).
 *
 * Idempotent and fast when already satisfied: a stamp file in the venv holds the SHA-256 of the
 * requirements and of the interpreter's version; when it matches and every pinned distribution
 * is installed at its pinned version, nothing is done.
 *
 * Downloads are kept in a wheelhouse (default ~/.cache/mdpo-studio/wheels; PyPI's proxy here
 * sends no cache headers, so pip's own HTTP cache keeps nothing): a rebuild on the same machine
 * (fresh clone, deleted .venv) installs offline from it with --no-index, and only downloads when
 * the wheelhouse lacks a pinned wheel.
 *
 * Environment: MDPO_BOOTSTRAP_PYTHON picks the interpreter that creates the venv (default:
 * python3, then python; CPython >= 3.10). MDPO_WHEELHOUSE moves the wheelhouse.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REQUIREMENTS = join(REPO, 'python', 'requirements.txt');
const VENV = join(REPO, '.venv');
const WIN = process.platform === 'win32';
const VENV_PYTHON = join(VENV, WIN ? 'Scripts/python.exe' : 'bin/python');
const STAMP = join(VENV, '.mdpo-requirements.sha256');
const MIN = [3, 10];
const WHEELHOUSE = process.env.MDPO_WHEELHOUSE || join(homedir(), '.cache', 'mdpo-studio', 'wheels');

const log = (msg) => console.log(`[setup:python] ${msg}`);
function fail(msg) {
  console.error(`[setup:python] error: ${msg}`);
  process.exit(1);
}

/** Runs a command; returns { status, stdout, stderr } (stdio inherited when `live`). */
function run(cmd, args, live = false) {
  const r = spawnSync(cmd, args, { cwd: REPO, encoding: 'utf8', stdio: live ? 'inherit' : 'pipe' });
  if (r.error) return { status: -1, stdout: '', stderr: String(r.error.message) };
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** The interpreter's "major.minor.micro", or null when it cannot be run. */
function pythonVersion(python) {
  const r = run(python, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])']);
  return r.status === 0 ? r.stdout.trim() : null;
}

function atLeast(version) {
  const [a, b] = version.split('.').map(Number);
  return a > MIN[0] || (a === MIN[0] && b >= MIN[1]);
}

function findBootstrap() {
  const candidates = process.env.MDPO_BOOTSTRAP_PYTHON
    ? [process.env.MDPO_BOOTSTRAP_PYTHON]
    : WIN
      ? ['python', 'py']
      : ['python3', 'python'];
  const seen = [];
  for (const c of candidates) {
    const v = pythonVersion(c);
    seen.push(`${c}: ${v ?? 'not found'}`);
    if (v && atLeast(v)) return { python: c, version: v };
  }
  fail(
    `needs CPython >= ${MIN.join('.')} to create .venv, found none (${seen.join('; ')}). ` +
      'Install Python 3.10+ (with venv and pip), or set MDPO_BOOTSTRAP_PYTHON to its path.',
  );
}

if (!existsSync(REQUIREMENTS)) fail(`missing ${REQUIREMENTS}`);
const requirements = readFileSync(REQUIREMENTS, 'utf8');
const t0 = Date.now();

// The venv's own interpreter decides the stamp; a venv whose interpreter no longer runs is rebuilt.
let venvVersion = existsSync(VENV_PYTHON) ? pythonVersion(VENV_PYTHON) : null;
if (venvVersion && !atLeast(venvVersion)) {
  log(`.venv has Python ${venvVersion} (< ${MIN.join('.')}): recreating it`);
  rmSync(VENV, { recursive: true, force: true });
  venvVersion = null;
}
if (!venvVersion) {
  if (existsSync(VENV)) {
    log('.venv exists but its interpreter does not run: recreating it');
    rmSync(VENV, { recursive: true, force: true });
  }
  const boot = findBootstrap();
  log(`creating .venv with ${boot.python} (Python ${boot.version})`);
  const r = run(boot.python, ['-m', 'venv', VENV], true);
  if (r.status !== 0 || !existsSync(VENV_PYTHON)) {
    fail(`\`${boot.python} -m venv .venv\` failed (on Debian/Ubuntu: apt-get install python3-venv)`);
  }
  venvVersion = pythonVersion(VENV_PYTHON);
}

const hash = createHash('sha256').update(requirements).update(`\npython ${venvVersion}\n`).digest('hex');
const stamped = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : '';

/** `name==version` pins of requirements.txt. */
const pins = requirements
  .split('\n')
  .map((l) => l.replace(/#.*/, '').trim())
  .filter((l) => l.length > 0)
  .map((l) => {
    const m = /^([A-Za-z0-9_.-]+)==([^\s;]+)$/.exec(l);
    if (!m) fail(`python/requirements.txt: "${l}" is not an exact pin (name==version)`);
    return [m[1], m[2]];
  });

/** Pins whose installed version differs (checked from metadata, without importing torch). */
function mismatchedPins() {
  const code =
    'import json, sys, importlib.metadata as md\n' +
    'bad = []\n' +
    'for name, want in json.loads(sys.argv[1]):\n' +
    '    try:\n' +
    '        have = md.version(name)\n' +
    '    except md.PackageNotFoundError:\n' +
    '        have = None\n' +
    '    if have is None or have.split("+")[0] != want:\n' +
    '        bad.append("%s==%s (installed: %s)" % (name, want, have))\n' +
    'print("\\n".join(bad))\n';
  const r = run(VENV_PYTHON, ['-c', code, JSON.stringify(pins)]);
  if (r.status !== 0) return [`metadata check failed: ${r.stderr.trim()}`];
  return r.stdout.split('\n').filter((l) => l.trim().length > 0);
}

if (stamped === hash && mismatchedPins().length === 0) {
  log(`.venv is up to date with python/requirements.txt (Python ${venvVersion}; ${Date.now() - t0} ms)`);
  process.exit(0);
}

rmSync(STAMP, { force: true });
const pipArgs = ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input'];
log(`installing python/requirements.txt into .venv (Python ${venvVersion}) from the wheelhouse ${WHEELHOUSE}`);
let pip = existsSync(WHEELHOUSE)
  ? run(VENV_PYTHON, [...pipArgs, '--no-index', '--find-links', WHEELHOUSE, '-r', REQUIREMENTS], true)
  : { status: 1 };
if (pip.status !== 0) {
  log('the wheelhouse lacks some wheels: downloading them from the package index (kept for next time)');
  mkdirSync(WHEELHOUSE, { recursive: true });
  const dl = run(VENV_PYTHON, ['-m', 'pip', 'download', '--disable-pip-version-check', '--no-input', '-d', WHEELHOUSE, '-r', REQUIREMENTS], true);
  if (dl.status !== 0) fail(`pip download -r python/requirements.txt into ${WHEELHOUSE} failed (see pip output above)`);
  pip = run(VENV_PYTHON, [...pipArgs, '--no-index', '--find-links', WHEELHOUSE, '-r', REQUIREMENTS], true);
}
if (pip.status !== 0) fail('pip install -r python/requirements.txt failed (see pip output above); .venv left unstamped');
const bad = mismatchedPins();
if (bad.length > 0) fail(`installed, but these pins do not match:\n  ${bad.join('\n  ')}`);
const check = run(VENV_PYTHON, ['-c', 'import torch, transformers, peft, accelerate, trl, safetensors, tokenizers, numpy, PIL']);
if (check.status !== 0) fail(`installed, but the pinned packages do not import:\n${check.stderr}`);
writeFileSync(STAMP, `${hash}\n`);
log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${VENV_PYTHON}`);
