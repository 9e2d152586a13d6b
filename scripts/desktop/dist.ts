/**
 * `npm run dist [-- <electron-builder args>]` (scripts/dist.mjs runs this): the installers for
 * this OS (electron-builder.yml: Linux AppImage + deb, Windows NSIS, macOS dmg).
 * 1. electron-vite build (out/);
 * 2. better-sqlite3 for this Electron (the same cached build `npm start` makes), staged in
 *    .cache/electron-native/package/ for electron-builder's extraResources;
 * 3. electron-builder, which downloads the Electron zip (ELECTRON_MIRROR, electron_config_cache)
 *    and, for AppImage/deb/NSIS/dmg, its packaging tools (ELECTRON_BUILDER_BINARIES_MIRROR,
 *    ELECTRON_BUILDER_CACHE).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { BINDING_FILE, STAMP_FILE } from '../../src/main/store/native';
import { NativeBuildError, PACKAGE_STAGE, electronTargetOf, ensureElectronSqlite } from './electron-native';
import { ROOT } from './start';

const log = (line: string) => process.stderr.write(line + '\n');

function run(file: string, args: string[]): Promise<number> {
  const child = spawn(process.execPath, [file, ...args], { cwd: ROOT, stdio: 'inherit' });
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

const binOf = (pkg: string, rel: string) => join(dirname(createRequire(join(ROOT, 'package.json')).resolve(`${pkg}/package.json`)), rel);

/** Copies the Electron build (and its stamp) where electron-builder.yml takes it from. */
export function stageNative(root: string, binding: string): string {
  const stage = join(root, PACKAGE_STAGE);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  copyFileSync(binding, join(stage, BINDING_FILE));
  copyFileSync(join(dirname(binding), STAMP_FILE), join(stage, STAMP_FILE));
  return stage;
}

export const OFFLINE_HELP = [
  'electron-builder needs, once per version, the Electron zip and (for AppImage, deb, NSIS, dmg) its packaging tools.',
  'Offline, point it at a local mirror or a filled cache:',
  '  ELECTRON_MIRROR=https://mirror.example/electron/          (electron-v<version>-<os>-<arch>.zip under <version>/)',
  '  electron_config_cache=/path/with/the/electron/zip          (a folder holding electron-v<version>-<os>-<arch>.zip)',
  '  ELECTRON_BUILDER_BINARIES_MIRROR=https://mirror.example/electron-builder-binaries/',
  '  ELECTRON_BUILDER_CACHE=/path/to/a/copied/electron-builder/cache',
].join('\n');

export async function dist(argv: string[]): Promise<number> {
  const built = await run(binOf('electron-vite', 'bin/electron-vite.js'), ['build', '--logLevel', 'warn']);
  if (built !== 0) return built;
  const target = electronTargetOf(ROOT);
  if (!target) {
    log('electron is not installed (npm ci installs it).');
    return 1;
  }
  let binding: string;
  try {
    binding = ensureElectronSqlite(ROOT, target, { log });
  } catch (error) {
    if (error instanceof NativeBuildError) {
      log(error.message);
      return 1;
    }
    throw error;
  }
  log(`Staged ${binding} for the installer in ${stageNative(ROOT, binding)}`);
  const code = await run(binOf('electron-builder', 'cli.js'), ['--publish', 'never', ...argv]);
  if (code !== 0) log(`\nelectron-builder failed (exit ${code}). If it could not download something:\n${OFFLINE_HELP}`);
  return code;
}
