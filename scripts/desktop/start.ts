/**
 * `npm start` (scripts/start.mjs runs this): the desktop app.
 * - An Electron binary here (or downloadable, ELECTRON_MIRROR honoured): better-sqlite3 is
 *   built for Electron once (./electron-native.ts), then `electron-vite preview` builds and
 *   starts the app with MDPO_SQLITE_BINDING pointing at that build.
 * - No Electron binary (or `--browser`): browser mode in an app window of a Chromium-family
 *   browser (./app-window.ts); closing the window stops the server.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBrowserWindow } from './app-window';
import { NativeBuildError, electronTargetOf, ensureElectronSqlite } from './electron-native';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const log = (line: string) => process.stderr.write(line + '\n');

/** The Electron executable, fetching it once when missing (works online or with ELECTRON_MIRROR). */
export function electronBinary(root: string): string | null {
  const pkgDir = join(root, 'node_modules', 'electron');
  if (!existsSync(join(pkgDir, 'package.json'))) return null;
  const pathFile = join(pkgDir, 'path.txt');
  if (!existsSync(pathFile)) {
    const r = spawnSync(process.execPath, [join(pkgDir, 'install.js')], { stdio: 'ignore', timeout: 300_000 });
    if (r.status !== 0 || !existsSync(pathFile)) return null;
  }
  const bin = join(pkgDir, 'dist', readFileSync(pathFile, 'utf8'));
  return existsSync(bin) ? bin : null;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child = spawn(cmd, args, { cwd: ROOT, env, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

/** electron-vite's CLI (its package exports do not list the bin file, so resolve the folder). */
const electronVite = () => join(dirname(createRequire(join(ROOT, 'package.json')).resolve('electron-vite/package.json')), 'bin', 'electron-vite.js');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

/** out/ is newer than every source it is built from (then the build is skipped). */
export function buildIsFresh(root: string): boolean {
  const outputs = ['main/index.js', 'main/trainer.js', 'preload/index.cjs', 'renderer/index.html'].map((f) => join(root, 'out', f));
  if (!outputs.every((f) => existsSync(f))) return false;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const sources = ['src', 'electron.vite.config.ts', 'package.json', 'package-lock.json'].map((f) => join(root, f)).filter((f) => existsSync(f));
  return sources.every((f) => newestMtime(f) <= built);
}

async function browserWindow(): Promise<number> {
  // The same build the desktop app uses (seconds, skipped when out/ is current); browser mode
  // serves out/renderer.
  if (!buildIsFresh(ROOT)) {
    const built = await run(process.execPath, [electronVite(), 'build', '--logLevel', 'warn'], process.env);
    if (built !== 0) return built;
  }
  const w = await startBrowserWindow({ root: ROOT, env: process.env, log });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => w.stop());
  return w.done;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.includes('--browser')) return browserWindow();
  const electron = electronBinary(ROOT);
  if (!electron) {
    log('No Electron binary on this machine (it could not be downloaded; ELECTRON_MIRROR can point at a mirror): opening browser mode in an app window instead.');
    return browserWindow();
  }
  const target = electronTargetOf(ROOT)!;
  let binding: string;
  try {
    binding = ensureElectronSqlite(ROOT, target, { log });
  } catch (error) {
    if (!(error instanceof NativeBuildError)) throw error;
    log(error.message);
    log('\nThe desktop app needs that build; opening browser mode in an app window meanwhile.');
    return browserWindow();
  }
  const preview = buildIsFresh(ROOT) ? ['preview', '--skipBuild'] : ['preview'];
  return run(process.execPath, [electronVite(), ...preview], { ...process.env, MDPO_SQLITE_BINDING: binding });
}
