#!/usr/bin/env node
// `npm start`: the desktop app where an Electron binary exists (or can be fetched), and one
// clear line otherwise. Electron 45 fetches its binary on first use, not at install time, so
// an offline machine installs fine and ends up here.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

function electronBinary() {
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return null;
  }
  const pathFile = join(pkgDir, 'path.txt');
  if (!existsSync(pathFile)) {
    // Try the download once (works on a connected workstation or with ELECTRON_MIRROR).
    const r = spawnSync(process.execPath, [join(pkgDir, 'install.js')], { stdio: 'ignore', timeout: 120_000 });
    if (r.status !== 0 || !existsSync(pathFile)) return null;
  }
  const bin = join(pkgDir, 'dist', readFileSync(pathFile, 'utf8'));
  return existsSync(bin) ? bin : null;
}

if (!electronBinary()) {
  console.error(
    'No Electron binary on this machine (it could not be downloaded); run the same UI in a browser with `npm run serve`.',
  );
  process.exit(1);
}
const r = spawnSync('npx', ['electron-vite', 'preview'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
