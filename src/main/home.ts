/**
 * The data folder: ~/.mdpo-studio unless MDPO_HOME says otherwise (tests use temp dirs).
 * Layout: studio.db (the run store), datasets/<id>/ (imported records), runs/<uuid>/
 * (checkpoints and artefacts of one run).
 */
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function resolveHome(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.MDPO_HOME?.trim();
  return given ? resolve(given) : join(homedir(), '.mdpo-studio');
}

export interface HomePaths {
  root: string;
  db: string;
  datasets: string;
  runs: string;
}

export function homePaths(root: string): HomePaths {
  return { root, db: join(root, 'studio.db'), datasets: join(root, 'datasets'), runs: join(root, 'runs') };
}

export function ensureHome(root: string): HomePaths {
  const p = homePaths(root);
  for (const dir of [p.root, p.datasets, p.runs]) mkdirSync(dir, { recursive: true });
  return p;
}
