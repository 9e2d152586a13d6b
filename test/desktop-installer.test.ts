/**
 * The installer configuration (electron-builder.yml, issue 19). electron-builder cannot make
 * the installers here (it downloads Electron), so: the configuration is loaded and validated
 * by electron-builder's own loader and schema; every file pattern it names matches files after
 * `npm run build`; and electron-builder really packs the app (its `dir` target, Linux) around
 * a test stand-in for the Electron distribution (a folder with a placeholder executable, no
 * download), so the packed layout can be checked: the entries, the base model, the docs,
 * native modules unpacked from the asar, the Electron build of better-sqlite3 under
 * resources/native, and every package the built main bundle imports.
 *
 * Needs `npm run build` first (CI runs it before the tests).
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGED_BINDING } from '../src/main/store/native';
import { PACKAGE_STAGE } from '../scripts/desktop/electron-native';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(ROOT, 'package.json'));
// electron-builder's own configuration loader and schema (its internal module paths).
const { getConfig, validateConfiguration } = require('app-builder-lib/out/util/config/config') as {
  getConfig(projectDir: string, configPath: string | null, fromOptions: unknown): Promise<Config>;
  validateConfiguration(config: Config, logger: unknown): Promise<void>;
};
const { DebugLogger } = require('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
const { minimatch } = require('minimatch') as { minimatch: (path: string, pattern: string, o?: { dot?: boolean }) => boolean };

interface Config {
  /** Patterns, as written or normalized by electron-builder into one { filter } FileSet. */
  files: (string | { filter?: string[] })[];
  asar: boolean;
  asarUnpack: string[];
  extraResources: { from: string; to: string; filter: string[] }[];
  npmRebuild: boolean;
  directories: { output: string };
  linux: { target: string[] };
  win: { target: string[] };
  mac: { target: string[] };
  productName: string;
}

let config: Config;
const filePatterns = () => config.files.flatMap((f) => (typeof f === 'string' ? [f] : (f.filter ?? [])));
beforeAll(async () => {
  if (!existsSync(join(ROOT, 'out', 'main', 'index.js'))) throw new Error('out/ is missing: run `npm run build` before this test.');
  config = await getConfig(ROOT, null, null);
});

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

describe('electron-builder.yml', () => {
  it('is accepted by electron-builder\'s own loader and schema', async () => {
    await expect(validateConfiguration(config, new DebugLogger(false))).resolves.toBeUndefined();
    // The validator is live: a misspelt key is refused.
    await expect(validateConfiguration({ ...config, linux: { ...config.linux, tagret: ['deb'] } } as Config, new DebugLogger(false))).rejects.toThrow(/Invalid configuration object/);
    expect(config.productName).toBe('mDPO Studio');
  });

  it('makes AppImage and deb on Linux, NSIS on Windows, dmg on macOS, into dist/ (git-ignored)', () => {
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.win.target).toEqual(['nsis']);
    expect(config.mac.target).toEqual(['dmg']);
    expect(config.directories.output).toBe('dist');
    expect(readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('dist/');
  });

  it('every file pattern it names matches files of the built checkout', () => {
    const files = [join(ROOT, 'package.json'), ...['out', 'resources', 'docs', 'python'].flatMap((d) => walk(join(ROOT, d)))].map((p) => relative(ROOT, p).split('\\').join('/'));
    for (const pattern of filePatterns().filter((p) => !p.startsWith('!'))) {
      expect(files.some((f) => minimatch(f, pattern, { dot: true })), pattern).toBe(true);
    }
    for (const entry of ['out/main/index.js', 'out/main/trainer.js', 'out/preload/index.cjs', 'out/renderer/index.html', 'resources/base-model/model.safetensors', 'package.json']) {
      expect(filePatterns().some((p) => !p.startsWith('!') && minimatch(entry, p, { dot: true })), entry).toBe(true);
    }
    const main = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string }).main;
    expect(existsSync(join(ROOT, main))).toBe(true);
  });

  it('unpacks better-sqlite3 and sharp from the asar and takes the Electron build of better-sqlite3 from the stage npm run dist fills', () => {
    expect(config.asar).toBe(true);
    for (const path of ['node_modules/better-sqlite3/build/Release/better_sqlite3.node', 'node_modules/sharp/lib/index.js', 'node_modules/@img/sharp-linux-x64/lib/sharp-linux-x64.node']) {
      expect(config.asarUnpack.some((p) => minimatch(path, p, { dot: true })), path).toBe(true);
    }
    expect(config.npmRebuild).toBe(false);
    expect(config.extraResources).toEqual([{ from: PACKAGE_STAGE.split('\\').join('/'), to: dirname(PACKAGED_BINDING), filter: ['better_sqlite3.node', 'stamp.json'] }]);
  });
});

// electron-builder's real packing, around a stand-in Electron distribution (Linux layout).
describe.runIf(process.platform === 'linux')('the packed app (electron-builder --linux dir, stand-in Electron distribution)', () => {
  let tmp: string;
  let app: string;
  let listing: string[];
  const asar = require('@electron/asar') as {
    listPackage(archive: string): string[];
    statFile(archive: string, file: string): { unpacked?: boolean };
  };

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'mdpo-pack-'));
    // TEST STAND-IN for Electron's unpacked distribution: a placeholder executable.
    const dist = join(tmp, 'electron-standin-dist');
    mkdirSync(join(dist, 'resources'), { recursive: true });
    writeFileSync(join(dist, 'electron'), '#!/bin/sh\necho "test stand-in for Electron, not Electron" >&2\nexit 1\n');
    chmodSync(join(dist, 'electron'), 0o755);
    const electronVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules/electron/package.json'), 'utf8')) as { version: string }).version;
    writeFileSync(join(dist, 'version'), `v${electronVersion}`);
    // The stage npm run dist fills with the Electron build; here a copy of the Node build
    // stands in (the layout is what is checked, not the ABI).
    const stage = join(tmp, 'stage');
    mkdirSync(stage);
    copyFileSync(join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'), join(stage, 'better_sqlite3.node'));
    writeFileSync(join(stage, 'stamp.json'), '{}');
    const { build, Platform } = require('electron-builder') as {
      build(o: unknown): Promise<string[]>;
      Platform: { LINUX: { createTarget(t: string[]): unknown } };
    };
    await build({
      projectDir: ROOT,
      targets: Platform.LINUX.createTarget(['dir']),
      publish: 'never',
      config: {
        electronDist: dist,
        directories: { output: join(tmp, 'dist') },
        extraResources: config.extraResources.map((r) => ({ ...r, from: stage })),
      },
    });
    app = join(tmp, 'dist', 'linux-unpacked');
    listing = asar.listPackage(join(app, 'resources', 'app.asar')).map((p) => p.split('\\').join('/'));
  }, 600_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const archive = () => join(app, 'resources', 'app.asar');

  it('holds the entries the app starts from, the base model and the docs', () => {
    for (const f of ['/package.json', '/out/main/index.js', '/out/main/trainer.js', '/out/main/cli.js', '/out/preload/index.cjs', '/out/renderer/index.html']) {
      expect(listing, f).toContain(f);
    }
    for (const f of readdirSync(join(ROOT, 'resources', 'base-model'))) expect(listing).toContain(`/resources/base-model/${f}`);
    for (const f of readdirSync(join(ROOT, 'docs')).filter((n) => n.endsWith('.md'))) expect(listing).toContain(`/docs/${f}`);
    expect(listing.filter((f) => f.endsWith('.map'))).toEqual([]);
    // The torch engine's Python side, unpacked (a Python process cannot read inside the asar).
    for (const f of ['python/doctor_probe.py', 'python/requirements.txt', 'python/mdpo_torch/__init__.py', 'python/mdpo_torch/trainer.py']) {
      expect(listing, f).toContain(`/${f}`);
      expect(asar.statFile(archive(), f).unpacked, f).toBe(true);
    }
    expect(existsSync(join(app, 'mdpo-studio'))).toBe(true);
  });

  it('every native module is unpacked from the asar, better-sqlite3 and sharp included; the base model is unpacked', () => {
    const natives = listing.filter((f) => f.endsWith('.node'));
    expect(natives).toContain('/node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    expect(natives.some((f) => f.startsWith('/node_modules/@img/sharp-'))).toBe(true);
    for (const f of natives) {
      expect(asar.statFile(archive(), f.slice(1)).unpacked, f).toBe(true);
      expect(existsSync(join(app, 'resources', 'app.asar.unpacked', f)), f).toBe(true);
    }
    expect(asar.statFile(archive(), 'resources/base-model/model.safetensors').unpacked).toBe(true);
    expect(statSync(join(app, 'resources', 'app.asar.unpacked', 'resources', 'base-model', 'model.safetensors')).size).toBe(statSync(join(ROOT, 'resources/base-model/model.safetensors')).size);
  });

  it('puts the Electron build of better-sqlite3 where the app looks for it (resources/native)', () => {
    expect(existsSync(join(app, 'resources', PACKAGED_BINDING))).toBe(true);
    expect(existsSync(join(app, 'resources', 'native', 'stamp.json'))).toBe(true);
  });

  it('every package the built main bundle (app, trainer, CLI) imports is packed; no dev dependency is needed at run time', () => {
    const builtins = new Set([...builtinModules, 'electron']);
    const imports = new Set<string>();
    for (const file of walk(join(ROOT, 'out', 'main')).filter((f) => f.endsWith('.js'))) {
      const code = readFileSync(file, 'utf8');
      for (const m of code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*["']([^"'.][^"']*)["']|import\(\s*["']([^"'.][^"']*)["']\s*\)|require\(\s*["']([^"'.][^"']*)["']\s*\)/gm)) {
        const spec = (m[1] ?? m[2] ?? m[3])!;
        if (spec.startsWith('node:') || builtins.has(spec.split('/')[0]!)) continue;
        imports.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
      }
    }
    expect(imports.size).toBeGreaterThan(3);
    const optional = new Set(Object.keys((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { optionalDependencies?: Record<string, string> }).optionalDependencies ?? {}));
    for (const pkg of imports) {
      if (optional.has(pkg) && !existsSync(join(ROOT, 'node_modules', pkg))) continue; // not installed here, loaded only if present
      expect(listing, pkg).toContain(`/node_modules/${pkg}/package.json`);
    }
  });
});
