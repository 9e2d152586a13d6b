/**
 * Builds better-sqlite3 for the Electron in node_modules, into .cache/electron-native/<key>/
 * (see src/main/store/native.ts for who loads it). The copy in node_modules, built for the
 * system Node, is never touched: the source is copied to a work folder and compiled there with
 * node-gyp against Electron's headers.
 *
 * Headers: node-gyp downloads them from https://electronjs.org/headers unless
 *   MDPO_ELECTRON_HEADERS_URL=<mirror>   a mirror laid out like it (v<version>/node-v<version>-headers.tar.gz)
 *   MDPO_ELECTRON_HEADERS=<file or dir>  a local node-v<version>-headers.tar.gz, or that tarball extracted
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import {
  BINDING_FILE,
  NATIVE_CACHE,
  STAMP_FILE,
  checkElectronNative,
  electronNativeDir,
  electronNativeKey,
  type ElectronTarget,
} from '../../src/main/store/native';

export const DEFAULT_HEADERS_URL = 'https://electronjs.org/headers';
/** Where `npm run dist` stages the Electron build for electron-builder (extraResources -> native/). */
export const PACKAGE_STAGE = join(NATIVE_CACHE, 'package');

/** The Electron and better-sqlite3 of this checkout, or null when electron is not installed. */
export function electronTargetOf(root: string, platform = process.platform, arch = process.arch): ElectronTarget | null {
  const electronDir = join(root, 'node_modules', 'electron');
  if (!existsSync(join(electronDir, 'package.json'))) return null;
  const electron = (JSON.parse(readFileSync(join(electronDir, 'package.json'), 'utf8')) as { version: string }).version;
  const abiFile = join(electronDir, 'abi_version');
  if (!existsSync(abiFile)) throw new Error(`${abiFile} is missing: reinstall electron (npm ci).`);
  const abi = readFileSync(abiFile, 'utf8').trim();
  const sqlitePkg = join(root, 'node_modules', 'better-sqlite3', 'package.json');
  const sqlite = (JSON.parse(readFileSync(sqlitePkg, 'utf8')) as { version: string }).version;
  return { electron, abi, sqlite, platform, arch };
}

export interface HeaderSource {
  distUrl: string;
  /** A local headers tarball (node-gyp --tarball). */
  tarball?: string;
  /** Extracted headers (node-gyp --nodedir). */
  nodedir?: string;
}

export function headerSource(env: Record<string, string | undefined>): HeaderSource {
  const distUrl = env.MDPO_ELECTRON_HEADERS_URL?.trim() || DEFAULT_HEADERS_URL;
  const local = env.MDPO_ELECTRON_HEADERS?.trim();
  if (!local) return { distUrl };
  if (!existsSync(local)) throw new Error(`MDPO_ELECTRON_HEADERS names ${local}, which does not exist.`);
  return statSync(local).isDirectory() ? { distUrl, nodedir: local } : { distUrl, tarball: local };
}

/** node-gyp's arguments for one Electron build. */
export function nodeGypArgs(t: ElectronTarget, source: HeaderSource, devdir: string): string[] {
  const args = ['rebuild', '--release', `--target=${t.electron}`, '--runtime=electron', `--arch=${t.arch}`, `--dist-url=${source.distUrl}`, `--devdir=${devdir}`];
  if (source.tarball) args.push(`--tarball=${source.tarball}`);
  if (source.nodedir) args.push(`--nodedir=${source.nodedir}`);
  return args;
}

/** node-gyp's CLI: the project's (electron-builder brings it), else the one bundled with npm. */
export function findNodeGyp(root: string): string {
  try {
    return createRequire(join(root, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return bundled;
    throw new Error('node-gyp was not found (neither in node_modules nor bundled with npm): npm ci installs it.');
  }
}

export class NativeBuildError extends Error {
  override name = 'NativeBuildError';
  constructor(
    message: string,
    /** 'headers': Electron's headers could not be had; 'compile': the C++ build failed. */
    readonly kind: 'headers' | 'compile',
  ) {
    super(message);
  }
}

/** What to do when the headers download is impossible. */
export function headersHelp(t: ElectronTarget, source: HeaderSource): string {
  const file = `node-v${t.electron}-headers.tar.gz`;
  return [
    `Building better-sqlite3 for Electron ${t.electron} (ABI ${t.abi}) needs Electron's headers, and they could not be had`,
    source.tarball || source.nodedir
      ? `from ${source.tarball ?? source.nodedir} (MDPO_ELECTRON_HEADERS).`
      : `from ${source.distUrl}/v${t.electron}/${file} (no network, or a proxy blocks it).`,
    'Either:',
    `  - point at a mirror laid out like electronjs.org/headers: MDPO_ELECTRON_HEADERS_URL=https://mirror.example/electron-headers npm start`,
    `  - or copy ${file} (from ${DEFAULT_HEADERS_URL}/v${t.electron}/${file} on a connected machine) here and run:`,
    `    MDPO_ELECTRON_HEADERS=/path/to/${file} npm start`,
  ].join('\n');
}

function tail(text: string, lines = 25): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** The exported symbol of a Node addon built for `abi` (NODE_MODULE_INIT's name). */
export function hasAbiSymbol(binding: string, abi: string): boolean {
  return readFileSync(binding).includes(`node_register_module_v${abi}`);
}

/**
 * The environment for node-gyp without npm's header settings: under `npm start`, npm exports
 * its config (Debian's npm sets nodedir=/usr, the system Node's headers), and node-gyp would
 * compile against those instead of Electron's. Our arguments say everything.
 */
export function gypEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!/^npm_config_(nodedir|tarball|disturl|dist_url|target|runtime|arch|devdir|build_from_source)$/i.test(k)) out[k] = v;
  }
  return out;
}

export interface BuildOptions {
  env?: Record<string, string | undefined>;
  log?: (line: string) => void;
  /** Forwarded to node-gyp (default: a pipe, so a failure can be explained). */
  nodeGyp?: string;
}

/**
 * Builds the Electron copy unless the cache has a fresh one; returns the binding's path.
 * Atomic: the build happens in a work folder and is renamed into place with its stamp, so an
 * interrupted build is never mistaken for a finished one. Older builds are removed.
 */
export function ensureElectronSqlite(root: string, t: ElectronTarget, options: BuildOptions = {}): string {
  const state = checkElectronNative(root, t);
  if (state.fresh) return state.binding;
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const source = headerSource(env);
  const cache = join(root, NATIVE_CACHE);
  const work = join(cache, `.work-${electronNativeKey(t)}-${process.pid}`);
  const devdir = join(cache, 'headers');
  const srcDir = join(root, 'node_modules', 'better-sqlite3');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    for (const part of ['binding.gyp', 'package.json', 'src', 'deps']) cpSync(join(srcDir, part), join(work, part), { recursive: true });
    log(`Building better-sqlite3 ${t.sqlite} for Electron ${t.electron} (ABI ${t.abi}), once (${state.reason}); this takes a minute or two...`);
    const r = spawnSync(process.execPath, [options.nodeGyp ?? findNodeGyp(root), ...nodeGypArgs(t, source, devdir)], {
      cwd: work,
      env: gypEnv(env),
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const output = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
    const built = join(work, 'build', 'Release', BINDING_FILE);
    if (r.status !== 0 || !existsSync(built)) {
      const headersThere = existsSync(join(devdir, t.electron, 'include', 'node', 'node.h')) || Boolean(source.nodedir && existsSync(join(source.nodedir, 'include', 'node', 'node.h')));
      if (!headersThere) throw new NativeBuildError(`${headersHelp(t, source)}\n\nnode-gyp said:\n${tail(output)}`, 'headers');
      throw new NativeBuildError(
        `Compiling better-sqlite3 for Electron ${t.electron} failed (a C++ toolchain is needed: python3, make and g++ on Linux, Xcode's command line tools on macOS, Visual Studio Build Tools on Windows).\n\nnode-gyp said:\n${tail(output)}`,
        'compile',
      );
    }
    if (!hasAbiSymbol(built, t.abi)) {
      throw new NativeBuildError(`The build at ${built} does not export node_register_module_v${t.abi}: the headers are not Electron ${t.electron}'s.`, 'headers');
    }
    const finalDir = electronNativeDir(root, t);
    const staged = `${work}-done`;
    mkdirSync(staged, { recursive: true });
    cpSync(built, join(staged, BINDING_FILE));
    writeFileSync(join(staged, STAMP_FILE), JSON.stringify({ ...t, builtAt: new Date().toISOString() }, null, 2) + '\n');
    rmSync(finalDir, { recursive: true, force: true });
    renameSync(staged, finalDir);
    for (const entry of readdirSync(cache)) {
      if (entry.startsWith('better-sqlite3-') && entry !== electronNativeKey(t)) rmSync(join(cache, entry), { recursive: true, force: true });
    }
    log(`Built ${join(finalDir, BINDING_FILE)}`);
    return join(finalDir, BINDING_FILE);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
