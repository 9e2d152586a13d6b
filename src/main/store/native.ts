/**
 * Which better-sqlite3 binary this process loads (better-sqlite3's `nativeBinding` option).
 *
 * better-sqlite3 is a native module compiled for one ABI. The system Node (CLI, browser mode,
 * tests) loads the copy npm built in node_modules, as usual. The Electron main process has
 * another ABI, so it loads its own copy, built once by `npm start` (scripts/desktop/) into
 * `.cache/electron-native/<key>/`, or shipped by the installer as
 * `<resources>/native/better_sqlite3.node`. Neither copy replaces the other, so no runtime
 * breaks the other one.
 *
 * Order: MDPO_SQLITE_BINDING (an explicit path; `npm start` sets it for Electron; ignored by a
 * process of another ABI than the one its stamp.json names) > system Node: the default >
 * Electron, packaged: the installer's copy > Electron, source checkout: the cache entry for
 * this Electron version and ABI > a clear error saying how to build it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The cache of Electron builds, relative to the checkout root. */
export const NATIVE_CACHE = join('.cache', 'electron-native');
/** The Electron build inside an installed app, relative to process.resourcesPath. */
export const PACKAGED_BINDING = join('native', 'better_sqlite3.node');
export const BINDING_FILE = 'better_sqlite3.node';
/** Written next to a finished build: what it was built for. */
export const STAMP_FILE = 'stamp.json';

/** What an Electron build of better-sqlite3 is built for; every field is part of its key. */
export interface ElectronTarget {
  electron: string;
  /** NODE_MODULE_VERSION of that Electron (process.versions.modules inside it). */
  abi: string;
  /** better-sqlite3's version (its C++ source). */
  sqlite: string;
  platform: string;
  arch: string;
}

export function electronNativeKey(t: ElectronTarget): string {
  return `better-sqlite3-${t.sqlite}-electron-${t.electron}-abi${t.abi}-${t.platform}-${t.arch}`;
}

export function electronNativeDir(root: string, t: ElectronTarget): string {
  return join(root, NATIVE_CACHE, electronNativeKey(t));
}

export interface FsLike {
  exists(path: string): boolean;
  readText(path: string): string;
}

const realFs: FsLike = { exists: existsSync, readText: (p) => readFileSync(p, 'utf8') };

export type Freshness = { fresh: true; binding: string } | { fresh: false; binding: string; reason: string };

/**
 * Whether the cache holds a finished build for exactly this target. A build is finished when
 * its stamp (written last) names the same target; anything else is missing or stale.
 */
export function checkElectronNative(root: string, t: ElectronTarget, fs: FsLike = realFs): Freshness {
  const dir = electronNativeDir(root, t);
  const binding = join(dir, BINDING_FILE);
  const stampPath = join(dir, STAMP_FILE);
  if (!fs.exists(binding) || !fs.exists(stampPath)) {
    return { fresh: false, binding, reason: `no build for Electron ${t.electron} (ABI ${t.abi}) at ${dir}` };
  }
  let stamp: Partial<ElectronTarget>;
  try {
    stamp = JSON.parse(fs.readText(stampPath)) as Partial<ElectronTarget>;
  } catch {
    return { fresh: false, binding, reason: `${stampPath} is not valid JSON (an interrupted build)` };
  }
  for (const field of ['electron', 'abi', 'sqlite', 'platform', 'arch'] as const) {
    if (String(stamp[field]) !== t[field]) {
      return { fresh: false, binding, reason: `${stampPath}: built for ${field} ${String(stamp[field])}, needed ${t[field]}` };
    }
  }
  return { fresh: true, binding };
}

/** The ABI a build's stamp names, or null without a readable stamp. */
function stampAbi(dir: string, fs: FsLike): string | null {
  const path = join(dir, STAMP_FILE);
  if (!fs.exists(path)) return null;
  try {
    const abi = (JSON.parse(fs.readText(path)) as { abi?: unknown }).abi;
    return typeof abi === 'string' ? abi : null;
  } catch {
    return null;
  }
}

/** The checkout root at or above `from`: the folder whose node_modules holds better-sqlite3. */
export function findCheckoutRoot(from: string, fs: FsLike = realFs): string | null {
  let dir = from;
  for (let i = 0; i < 6; i++) {
    if (fs.exists(join(dir, 'node_modules', 'better-sqlite3', 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

export class ElectronNativeMissingError extends Error {
  override name = 'ElectronNativeMissingError';
}

export interface BindingContext {
  versions: { electron?: string; modules: string };
  env: Record<string, string | undefined>;
  /** process.resourcesPath (set inside Electron). */
  resourcesPath?: string;
  /** Where to look upwards for the checkout (this module's folder). */
  searchFrom: string;
  platform: string;
  arch: string;
  fs?: FsLike;
}

/** The path for better-sqlite3's `nativeBinding`, or undefined for its default binary. */
export function chooseSqliteBinding(ctx: BindingContext): string | undefined {
  const fs = ctx.fs ?? realFs;
  const override = ctx.env.MDPO_SQLITE_BINDING?.trim();
  if (override) {
    if (!fs.exists(override)) {
      throw new ElectronNativeMissingError(`MDPO_SQLITE_BINDING names ${override}, which does not exist.`);
    }
    // Children inherit the variable: a system-Node child of the Electron app must not load the
    // Electron build, so a build whose stamp names another ABI is left to its own runtime.
    if ((stampAbi(dirname(override), fs) ?? ctx.versions.modules) === ctx.versions.modules) return override;
  }
  const electron = ctx.versions.electron;
  if (!electron) return undefined;
  const looked: string[] = [];
  if (ctx.resourcesPath) {
    const packaged = join(ctx.resourcesPath, PACKAGED_BINDING);
    if (fs.exists(packaged)) return packaged;
    looked.push(packaged);
  }
  const root = findCheckoutRoot(ctx.searchFrom, fs);
  if (root) {
    const sqlite = (JSON.parse(fs.readText(join(root, 'node_modules', 'better-sqlite3', 'package.json'))) as { version: string }).version;
    const t: ElectronTarget = { electron, abi: ctx.versions.modules, sqlite, platform: ctx.platform, arch: ctx.arch };
    const state = checkElectronNative(root, t, fs);
    if (state.fresh) return state.binding;
    looked.push(state.binding);
  }
  throw new ElectronNativeMissingError(
    `better-sqlite3 has no build for Electron ${electron} (ABI ${ctx.versions.modules}); looked for ${looked.join(' and ') || 'a checkout above ' + ctx.searchFrom}. ` +
      'Start the app with `npm start`, which builds it once (it needs a C++ toolchain and Electron\'s headers).',
  );
}

let chosen: { value: string | undefined } | null = null;

/** chooseSqliteBinding for this process (decided once). */
export function sqliteNativeBinding(): string | undefined {
  chosen ??= {
    value: chooseSqliteBinding({
      versions: process.versions,
      env: process.env,
      resourcesPath: (process as { resourcesPath?: string }).resourcesPath,
      searchFrom: dirname(fileURLToPath(import.meta.url)),
      platform: process.platform,
      arch: process.arch,
    }),
  };
  return chosen.value;
}
