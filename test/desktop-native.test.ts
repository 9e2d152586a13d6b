/**
 * better-sqlite3 for two runtimes (issue 19): which binary a process loads (system Node: the
 * default; Electron: its own build, packaged or from the cache), when the cache's build is
 * stale, the node-gyp invocation, the message when Electron's headers cannot be downloaded,
 * and a real build from a local headers tarball that the store then loads through
 * `nativeBinding`. No Electron binary is needed: a build for this Node's ABI stands in for
 * Electron's (same code path; only the version and the headers differ).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  NATIVE_CACHE,
  PACKAGED_BINDING,
  chooseSqliteBinding,
  checkElectronNative,
  electronNativeDir,
  type ElectronTarget,
} from '../src/main/store/native';
import {
  DEFAULT_HEADERS_URL,
  NativeBuildError,
  electronTargetOf,
  ensureElectronSqlite,
  gypEnv,
  headerSource,
  nodeGypArgs,
} from '../scripts/desktop/electron-native';

const ROOT = resolve(__dirname, '..');
const SQLITE_VERSION = (JSON.parse(readFileSync(join(ROOT, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
const DEFAULT_BINARY = join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function temp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** A checkout-like folder: node_modules linked to this checkout's. */
function fakeCheckout(): string {
  const root = temp('mdpo-native-');
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
  return root;
}

const target = (over: Partial<ElectronTarget> = {}): ElectronTarget => ({
  electron: '45.5.0',
  abi: '150',
  sqlite: SQLITE_VERSION,
  platform: 'linux',
  arch: 'x64',
  ...over,
});

function writeBuild(root: string, t: ElectronTarget, stamp: unknown = t): string {
  const dir = electronNativeDir(root, t);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'better_sqlite3.node'), 'binary');
  writeFileSync(join(dir, 'stamp.json'), typeof stamp === 'string' ? stamp : JSON.stringify(stamp));
  return join(dir, 'better_sqlite3.node');
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('choosing the binary', () => {
  const ctx = (root: string, over: Partial<Parameters<typeof chooseSqliteBinding>[0]> = {}) => ({
    versions: { electron: '45.5.0', modules: '150' },
    env: {},
    searchFrom: join(root, 'out', 'main', 'chunks'),
    platform: 'linux',
    arch: 'x64',
    ...over,
  });

  it('system Node loads better-sqlite3\'s own build (no nativeBinding)', () => {
    const root = fakeCheckout();
    writeBuild(root, target());
    expect(chooseSqliteBinding(ctx(root, { versions: { modules: '115' } }))).toBeUndefined();
  });

  it('Electron from a checkout loads the cache entry for its version and ABI, found from out/main/chunks upwards', () => {
    const root = fakeCheckout();
    const binding = writeBuild(root, target());
    expect(binding).toBe(join(root, NATIVE_CACHE, `better-sqlite3-${SQLITE_VERSION}-electron-45.5.0-abi150-linux-x64`, 'better_sqlite3.node'));
    expect(chooseSqliteBinding(ctx(root))).toBe(binding);
  });

  it('an installed app loads the copy its installer put under resources/native', () => {
    const root = fakeCheckout();
    writeBuild(root, target());
    const resources = temp('mdpo-resources-');
    mkdirSync(join(resources, 'native'));
    writeFileSync(join(resources, PACKAGED_BINDING), 'binary');
    expect(chooseSqliteBinding(ctx(root, { resourcesPath: resources }))).toBe(join(resources, 'native', 'better_sqlite3.node'));
  });

  it('MDPO_SQLITE_BINDING wins; one that does not exist is an error naming it', () => {
    const root = fakeCheckout();
    const binding = writeBuild(root, target({ electron: '1.0.0' }));
    expect(chooseSqliteBinding(ctx(root, { env: { MDPO_SQLITE_BINDING: binding } }))).toBe(binding);
    expect(() => chooseSqliteBinding(ctx(root, { env: { MDPO_SQLITE_BINDING: '/nowhere/b.node' } }))).toThrow(
      'MDPO_SQLITE_BINDING names /nowhere/b.node, which does not exist.',
    );
  });

  it('MDPO_SQLITE_BINDING with a stamp of another ABI is left alone (a system-Node child of the Electron app)', () => {
    const root = fakeCheckout();
    const electronBuild = writeBuild(root, target());
    const env = { MDPO_SQLITE_BINDING: electronBuild };
    expect(chooseSqliteBinding(ctx(root, { env, versions: { modules: '115' } }))).toBeUndefined();
    expect(chooseSqliteBinding(ctx(root, { env }))).toBe(electronBuild);
  });

  it('a build for another Electron is not used: the error says which build is missing and how to get it', () => {
    const root = fakeCheckout();
    writeBuild(root, target({ electron: '44.0.0', abi: '145' }));
    const expected = join(electronNativeDir(root, target()), 'better_sqlite3.node');
    expect(() => chooseSqliteBinding(ctx(root))).toThrow(`better-sqlite3 has no build for Electron 45.5.0 (ABI 150); looked for ${expected}. Start the app with \`npm start\``);
  });
});

describe('staleness of the cache', () => {
  it('fresh only when binding and stamp exist and the stamp names this exact target', () => {
    const root = fakeCheckout();
    const t = target();
    expect(checkElectronNative(root, t)).toMatchObject({ fresh: false, reason: expect.stringContaining('no build for Electron 45.5.0 (ABI 150)') });
    writeBuild(root, t, '{"electron": "45.5');
    expect(checkElectronNative(root, t)).toMatchObject({ fresh: false, reason: expect.stringContaining('is not valid JSON') });
    writeBuild(root, t, { ...t, abi: '149' });
    expect(checkElectronNative(root, t)).toMatchObject({ fresh: false, reason: expect.stringContaining('built for abi 149, needed 150') });
    writeBuild(root, t, { ...t, sqlite: '11.0.0' });
    expect(checkElectronNative(root, t)).toMatchObject({ fresh: false, reason: expect.stringContaining(`built for sqlite 11.0.0, needed ${SQLITE_VERSION}`) });
    writeBuild(root, t);
    expect(checkElectronNative(root, t)).toEqual({ fresh: true, binding: join(electronNativeDir(root, t), 'better_sqlite3.node') });
  });

  it('a new Electron version or ABI is another key, so the old build is stale', () => {
    const root = fakeCheckout();
    writeBuild(root, target());
    expect(checkElectronNative(root, target({ electron: '45.6.0' })).fresh).toBe(false);
    expect(checkElectronNative(root, target({ abi: '151' })).fresh).toBe(false);
    expect(checkElectronNative(root, target({ arch: 'arm64' })).fresh).toBe(false);
  });

  it('reads the target from the installed electron package (version and abi_version)', () => {
    const electronPkg = JSON.parse(readFileSync(join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string };
    const abi = readFileSync(join(ROOT, 'node_modules/electron/abi_version'), 'utf8').trim();
    expect(electronTargetOf(ROOT, 'linux', 'x64')).toEqual({ electron: electronPkg.version, abi, sqlite: SQLITE_VERSION, platform: 'linux', arch: 'x64' });
    expect(electronPkg.version).toBe('45.5.0');
    expect(abi).toBe('150');
    expect(electronTargetOf(temp('mdpo-noelectron-'))).toBeNull();
  });
});

describe('the node-gyp build', () => {
  it('targets Electron explicitly, keeps its headers in the cache, and takes a mirror or local headers', () => {
    const t = target();
    expect(nodeGypArgs(t, headerSource({}), '/c/headers')).toEqual([
      'rebuild', '--release', '--target=45.5.0', '--runtime=electron', '--arch=x64', `--dist-url=${DEFAULT_HEADERS_URL}`, '--devdir=/c/headers',
    ]);
    expect(nodeGypArgs(t, headerSource({ MDPO_ELECTRON_HEADERS_URL: 'https://mirror.example/eh' }), '/d')).toContain('--dist-url=https://mirror.example/eh');
    const dir = temp('mdpo-headers-');
    writeFileSync(join(dir, 'h.tar.gz'), '');
    expect(nodeGypArgs(t, headerSource({ MDPO_ELECTRON_HEADERS: join(dir, 'h.tar.gz') }), '/d')).toContain(`--tarball=${join(dir, 'h.tar.gz')}`);
    expect(nodeGypArgs(t, headerSource({ MDPO_ELECTRON_HEADERS: dir }), '/d')).toContain(`--nodedir=${dir}`);
    expect(() => headerSource({ MDPO_ELECTRON_HEADERS: '/nowhere/h.tar.gz' })).toThrow('MDPO_ELECTRON_HEADERS names /nowhere/h.tar.gz, which does not exist.');
  });

  it('drops npm\'s header settings (Debian\'s npm exports nodedir=/usr: the system Node\'s headers)', () => {
    expect(gypEnv({ npm_config_nodedir: '/usr', NPM_CONFIG_TARBALL: 'x', npm_config_disturl: 'y', PATH: '/bin', npm_config_cache: '/c' })).toEqual({ PATH: '/bin', npm_config_cache: '/c' });
  });

  it('headers that cannot be downloaded: a clear message with the URL, the mirror and the local-tarball options; nothing half-built left', async () => {
    const root = fakeCheckout();
    // A port nobody listens on: the download is refused at once, like a blocked network.
    const port = await new Promise<number>((res) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const mirror = `http://127.0.0.1:${port}/electron-headers`;
    const t = target({ electron: '45.5.0' });
    let error: unknown;
    try {
      ensureElectronSqlite(root, t, { env: { ...process.env, MDPO_ELECTRON_HEADERS_URL: mirror }, log: () => {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NativeBuildError);
    const e = error as NativeBuildError;
    expect(e.kind).toBe('headers');
    expect(e.message).toContain(`from ${mirror}/v45.5.0/node-v45.5.0-headers.tar.gz (no network, or a proxy blocks it)`);
    expect(e.message).toContain('MDPO_ELECTRON_HEADERS_URL=https://mirror.example/electron-headers npm start');
    expect(e.message).toContain('MDPO_ELECTRON_HEADERS=/path/to/node-v45.5.0-headers.tar.gz npm start');
    expect(e.message).toContain('node-gyp said:');
    const cache = join(root, NATIVE_CACHE);
    expect(readdirSync(cache).filter((n) => n !== 'headers')).toEqual([]);
    expect(checkElectronNative(root, t).fresh).toBe(false);
  }, 120_000);

  // This Node's own headers as "the local tarball" and its ABI as the target: the same build
  // as for Electron, but the result can be loaded here to prove it works.
  const nodeHeaders = join(dirname(process.execPath), '..', 'include', 'node');
  const haveHeaders = existsSync(join(nodeHeaders, 'node.h'));
  it.skipIf(!haveHeaders)('builds from a local headers tarball into the cache, loads through nativeBinding, leaves node_modules alone, and is not rebuilt when fresh', () => {
    const root = fakeCheckout();
    const version = process.versions.node;
    const staging = temp('mdpo-tarball-');
    mkdirSync(join(staging, `node-v${version}`, 'include'), { recursive: true });
    spawnSync('cp', ['-r', nodeHeaders, join(staging, `node-v${version}`, 'include', 'node')]);
    const tarball = join(staging, `node-v${version}-headers.tar.gz`);
    expect(spawnSync('tar', ['-czf', tarball, '-C', staging, `node-v${version}`]).status).toBe(0);
    const t = target({ electron: version, abi: process.versions.modules, platform: process.platform, arch: process.arch });
    const before = sha(DEFAULT_BINARY);
    const logs: string[] = [];
    const binding = ensureElectronSqlite(root, t, { env: { ...process.env, npm_config_nodedir: '/usr', MDPO_ELECTRON_HEADERS: tarball }, log: (l) => logs.push(l) });
    expect(binding).toBe(join(electronNativeDir(root, t), 'better_sqlite3.node'));
    expect(logs[0]).toContain(`Building better-sqlite3 ${SQLITE_VERSION} for Electron ${version} (ABI ${process.versions.modules}), once`);
    expect(checkElectronNative(root, t).fresh).toBe(true);
    expect(sha(DEFAULT_BINARY)).toBe(before);
    expect(logs.at(-1)).toBe(`Built ${binding}`);
    const db = new Database(':memory:', { nativeBinding: binding });
    expect(db.prepare('select 6 * 7 as v').get()).toEqual({ v: 42 });
    db.close();
    // The runtime chooser picks it for a process claiming that Electron.
    expect(chooseSqliteBinding({ versions: { electron: version, modules: t.abi }, env: {}, searchFrom: join(root, 'out', 'main'), platform: t.platform, arch: t.arch })).toBe(binding);
    // Fresh: returned without running node-gyp again.
    const again: string[] = [];
    expect(ensureElectronSqlite(root, t, { env: { MDPO_ELECTRON_HEADERS: tarball }, log: (l) => again.push(l), nodeGyp: '/nowhere/node-gyp.js' })).toBe(binding);
    expect(again).toEqual([]);
    expect(readdirSync(join(root, NATIVE_CACHE)).filter((n) => n.startsWith('.work'))).toEqual([]);
  }, 900_000);
});
