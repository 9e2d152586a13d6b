/**
 * Which Python runs the torch engine (and `mdpo doctor`). In order:
 *   1. an explicit path (the CLI's --python),
 *   2. $MDPO_PYTHON,
 *   3. the project's environment, <appRoot>/.venv (made by `npm run setup:python`),
 *   4. python3 (then python) on PATH.
 * An explicit path or $MDPO_PYTHON that is not there is an error, never a silent fall-back to
 * another interpreter: the user asked for that one.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import type { TorchDoctor } from '../../shared/api';

export type PythonSource = NonNullable<TorchDoctor['python']>['source'];

export interface PythonLookup {
  /** The CLI's --python, or a run's config.torch.python. */
  explicit?: string | null;
  /** How messages name the explicit choice (default "--python"). */
  explicitLabel?: string;
  /** The app's install folder: <appRoot>/.venv is the project's environment. */
  appRoot: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
}

export interface PythonFound {
  path: string;
  source: PythonSource;
}

export interface PythonSearch {
  found: PythonFound | null;
  /** Each place looked at, with what was there, e.g. "MDPO_PYTHON=/x/python: missing". */
  searched: string[];
  /** Set when an explicitly requested interpreter is unusable (no fall-back then). */
  refused: string | null;
}

/** <root>/.venv's interpreter, per platform. */
export function venvPython(root: string, platform: NodeJS.Platform = process.platform): string {
  return join(root, '.venv', platform === 'win32' ? 'Scripts/python.exe' : 'bin/python');
}

/** "found", or why a path cannot be run. */
function check(path: string, platform: NodeJS.Platform): 'found' | 'missing' | 'not a file' | 'not executable' {
  try {
    if (!statSync(path).isFile()) return 'not a file';
  } catch {
    return 'missing';
  }
  if (platform === 'win32') return 'found';
  try {
    accessSync(path, constants.X_OK);
    return 'found';
  } catch {
    return 'not executable';
  }
}

export function findPython(lookup: PythonLookup): PythonSearch {
  const env = lookup.env ?? process.env;
  const platform = lookup.platform ?? process.platform;
  const searched: string[] = [];

  const requested: [PythonSource, string | undefined | null][] = [
    ['option', lookup.explicit],
    ['MDPO_PYTHON', env.MDPO_PYTHON],
  ];
  for (const [source, value] of requested) {
    if (!value) continue;
    const path = resolve(value);
    const state = check(path, platform);
    const label = source === 'option' ? `${lookup.explicitLabel ?? '--python'} ${path}` : `MDPO_PYTHON=${path}`;
    searched.push(`${label}: ${state}`);
    if (state === 'found') return { found: { path, source }, searched, refused: null };
    return { found: null, searched, refused: `${label} is ${state === 'missing' ? 'not there' : state}` };
  }
  if (!env.MDPO_PYTHON) searched.push('MDPO_PYTHON: not set');

  const venv = venvPython(lookup.appRoot, platform);
  const venvState = check(venv, platform);
  searched.push(`${venv}: ${venvState}`);
  if (venvState === 'found') return { found: { path: venv, source: 'venv' }, searched, refused: null };

  const names = platform === 'win32' ? ['python.exe', 'python3.exe'] : ['python3', 'python'];
  const dirs = (env.PATH ?? env.Path ?? '').split(delimiter).filter((d) => d && isAbsolute(d));
  for (const name of names) {
    for (const dir of dirs) {
      const path = join(dir, name);
      if (check(path, platform) === 'found') {
        searched.push(`${name} on PATH: ${path}`);
        return { found: { path, source: 'PATH' }, searched, refused: null };
      }
    }
    searched.push(`${name} on PATH: not found`);
  }
  return { found: null, searched, refused: null };
}
