/**
 * Boot test of the built desktop bundle (issue 19). No Electron binary runs here, so the BUILT
 * main entry (out/main/index.js) runs in plain Node against a test stand-in for the part of
 * Electron's API it uses (test/support/electron-standin.mjs, driven by
 * test/support/desktop-boot-driver.mjs), and the other built entries are checked the way
 * Electron would load them. It catches the packaging mistakes browser mode cannot: paths,
 * module formats, entries.
 *
 * Needs `npm run build` first (CI runs it before the tests).
 */
import { fork, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_CHANNELS, API_GLOBAL, EVENTS_CHANNEL } from '../src/shared/api';
import { windowOptions } from '../src/main/window';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'out');
const DEFAULT_BINARY = join(ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');

interface IpcResult {
  ok: boolean;
  value?: unknown;
  error?: { code: string; message: string };
}
interface BootReport {
  steps: string[];
  error?: string;
  window: {
    options: ReturnType<typeof windowOptions>;
    loaded: { kind: string; target: string }[];
    shownBeforeReady: boolean;
    shownAfterReady: boolean;
    openHandler: unknown;
    navigationPrevented: boolean;
  };
  external: string[];
  channels: string[];
  appListeners: Record<string, number>;
  refused: Record<string, Record<string, IpcResult>>;
  info: IpcResult & { value: { mode: string; home: string } };
  imported: { ok: boolean; valid: number };
  runId: number;
  progressSteps: number[];
  forks: { entry: string; pid: number; serviceName: string; exitBeforeQuit: unknown }[];
  quitPreventedFirst: boolean;
  appEvents: string[];
  quitRequests: number;
  forksAfterQuit: { pid: number; exit: { code: number | null; signal: string | null } | null }[];
  maps: string[] | null;
  errorBoxes?: [string, string][];
  exitCode?: number | null;
  windows?: number;
}

let tmp: string;
let home: string;
let bindingCopy: string;
let report: BootReport;

/** Preference pairs in the built-in world's words, so the shipped base model trains on them. */
async function writeWorldPairs(dir: string): Promise<void> {
  const colors: Record<string, [number, number, number]> = { red: [220, 40, 40], blue: [40, 60, 220], green: [40, 200, 60], yellow: [230, 220, 40] };
  const names = Object.keys(colors);
  mkdirSync(join(dir, 'img'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < 4; i++) {
    const [r, g, b] = colors[names[i]!]!;
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 30, g: 30, b: 30 } } })
      .composite([{ input: { create: { width: 10, height: 10, channels: 3, background: { r, g, b } } }, left: 8, top: 8 }])
      .png()
      .toBuffer();
    writeFileSync(join(dir, 'img', `${i}.png`), png);
    lines.push(JSON.stringify({ img_path: `img/${i}.png`, prompt: '<image>\nDescribe the image.', chosen: `a ${names[i]} square.`, rejected: `a ${names[(i + 1) % 4]} circle.` }));
  }
  writeFileSync(join(dir, 'data.jsonl'), lines.join('\n') + '\n');
}

/** Runs the built main entry under the stand-in (test/support/desktop-boot-driver.mjs). */
async function runDriver(vars: Record<string, string>): Promise<BootReport> {
  const env: NodeJS.ProcessEnv = { ...process.env, USERPROFILE: vars.HOME, ELECTRON_STANDIN_APP_PATH: ROOT, BOOT_OUT: OUT, BOOT_EVENTS_CHANNEL: EVENTS_CHANNEL, ...vars };
  delete env.MDPO_HOME;
  delete env.MDPO_TRAINER_ENGINE;
  delete env.ELECTRON_RENDERER_URL;
  const child = spawn(process.execPath, ['--import', join(ROOT, 'test/support/electron-standin-register.mjs'), join(ROOT, 'test/support/desktop-boot-driver.mjs')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  expect(code).toBe(0);
  return JSON.parse(readFileSync(vars.BOOT_REPORT!, 'utf8')) as BootReport;
}

beforeAll(async () => {
  if (!existsSync(join(OUT, 'main', 'index.js'))) throw new Error('out/main/index.js is missing: run `npm run build` before this test.');
  tmp = mkdtempSync(join(tmpdir(), 'mdpo-boot-'));
  home = join(tmp, 'home');
  mkdirSync(home);
  await writeWorldPairs(join(tmp, 'pairs'));
  // A copy of better-sqlite3's binary at a path of our own: the main process must load the
  // binary MDPO_SQLITE_BINDING names (what `npm start` sets to the Electron build).
  bindingCopy = join(tmp, 'native', 'better_sqlite3.node');
  mkdirSync(dirname(bindingCopy));
  copyFileSync(DEFAULT_BINARY, bindingCopy);
  report = await runDriver({
    HOME: home,
    MDPO_SQLITE_BINDING: bindingCopy,
    BOOT_DATASET: join(tmp, 'pairs'),
    BOOT_REPORT: join(tmp, 'report.json'),
  });
  if (report.error) throw new Error(`the boot driver failed after ${report.steps.join(' > ')}: ${report.error}`);
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the built desktop bundle (out/) against a stand-in for Electron', () => {
  it('opens the store in the app\'s data folder (~/.mdpo-studio), through the binary MDPO_SQLITE_BINDING names', () => {
    const dataFolder = join(home, '.mdpo-studio');
    expect(report.info.ok).toBe(true);
    expect(report.info.value.mode).toBe('electron');
    expect(report.info.value.home).toBe(dataFolder);
    expect(existsSync(join(dataFolder, 'studio.db'))).toBe(true);
    if (process.platform === 'linux') {
      expect(report.maps).toContain(bindingCopy);
      expect(report.maps).not.toContain(DEFAULT_BINARY);
    }
  });

  it('registers one IPC handler per API channel, and every one refuses untrusted senders', () => {
    expect([...report.channels].sort()).toEqual([...API_CHANNELS].sort());
    for (const [sender, results] of Object.entries(report.refused)) {
      expect(Object.keys(results).sort(), sender).toEqual([...API_CHANNELS].sort());
      for (const [channel, r] of Object.entries(results)) {
        expect(r, `${sender} on ${channel}`).toEqual({ ok: false, error: { code: 'bad_request', message: 'Refused: this IPC call did not come from the app window.' } });
      }
    }
    expect(Object.keys(report.refused).sort()).toEqual(['foreignPage', 'goneFrame', 'otherWebContents', 'subframe']);
  });

  it('creates the window with the hardened options, shows it when ready, denies new windows and navigation', () => {
    const opts = report.window.options;
    expect(opts).toEqual(windowOptions(join(OUT, 'main')));
    expect(opts.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false, allowRunningInsecureContent: false });
    expect(opts.show).toBe(false);
    expect([report.window.shownBeforeReady, report.window.shownAfterReady]).toEqual([false, true]);
    expect(report.window.openHandler).toEqual({ action: 'deny' });
    expect(report.external).toEqual(['https://example.org/']);
    expect(report.window.navigationPrevented).toBe(true);
    expect(report.appListeners).toEqual({ 'before-quit': 1, 'window-all-closed': 1, activate: 1 });
  });

  it('the preload path exists in out/ and is CommonJS that needs only electron and exposes every channel', async () => {
    const preload = report.window.options.webPreferences.preload;
    expect(preload).toBe(join(OUT, 'preload', 'index.cjs'));
    const code = readFileSync(preload, 'utf8');
    // Run it the way a sandboxed preload runs: a CommonJS function with a require that
    // offers only `electron` (here a stand-in for contextBridge and ipcRenderer).
    const required: string[] = [];
    const exposed: Record<string, unknown> = {};
    const invoked: [string, unknown][] = [];
    const electronStandin = {
      contextBridge: { exposeInMainWorld: (key: string, value: unknown) => void (exposed[key] = value) },
      ipcRenderer: {
        invoke: async (channel: string, input: unknown) => {
          invoked.push([channel, input]);
          return { ok: true, value: channel };
        },
        on: () => {},
        removeListener: () => {},
      },
    };
    const requireInSandbox = (id: string) => {
      required.push(id);
      if (id === 'electron') return electronStandin;
      throw new Error(`a sandboxed preload cannot require ${id}`);
    };
    const module = { exports: {} };
    const wrapper = vm.runInNewContext(`(function (exports, require, module, __filename, __dirname) {${code}\n})`, { console, Promise, Error, Object, Array, Symbol, JSON }, { filename: preload }) as (...a: unknown[]) => void;
    wrapper(module.exports, requireInSandbox, module, preload, dirname(preload));
    expect([...new Set(required)]).toEqual(['electron']);
    const api = exposed[API_GLOBAL] as Record<string, Record<string, (input?: unknown) => Promise<unknown>>>;
    for (const channel of API_CHANNELS) {
      const [domain, verb] = channel.split(':') as [string, string];
      expect(await api[domain]![verb]!({ probe: channel })).toBe(channel);
    }
    expect(invoked.map(([c]) => c)).toEqual([...API_CHANNELS]);
    expect(typeof (api.events as unknown as { subscribe: unknown }).subscribe).toBe('function');
  });

  it('the window loads out/renderer/index.html, which exists with every asset it names', () => {
    expect(report.window.loaded).toEqual([{ kind: 'file', target: join(OUT, 'renderer', 'index.html') }]);
    const html = readFileSync(join(OUT, 'renderer', 'index.html'), 'utf8');
    const refs = [...html.matchAll(/(?:src|href)="(\.\/[^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    for (const ref of refs) expect(existsSync(join(OUT, 'renderer', ref)), ref).toBe(true);
  });

  it('starts the trainer as a utility process on out/main/trainer.js, which trains and reports to the window', () => {
    expect(report.forks).toHaveLength(1);
    expect(report.forks[0]).toMatchObject({ entry: join(OUT, 'main', 'trainer.js'), serviceName: 'mDPO Studio trainer', exitBeforeQuit: null });
    expect(existsSync(report.forks[0]!.entry)).toBe(true);
    expect(report.imported).toEqual({ ok: true, id: 1, valid: 4 });
    expect(report.progressSteps.slice(0, 2)).toEqual([1, 2]);
  });

  it('the trainer entry, started as a plain Node child, answers the protocol\'s hello (ready) and exits when its parent goes', async () => {
    const child = fork(join(OUT, 'main', 'trainer.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    const hello = await new Promise<unknown>((res, rej) => {
      child.once('message', res);
      child.once('exit', (code) => rej(new Error(`trainer exited (${code}) before its hello`)));
    });
    expect(hello).toEqual({ type: 'ready', pid: child.pid, seq: 1 });
    const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    child.disconnect();
    expect(await exit).toBe(4);
  }, 60_000);

  it('quitting waits for the backend: the trainer is stopped, its run marked interrupted, the store closed', () => {
    expect(report.quitPreventedFirst).toBe(true);
    expect(report.appEvents).toEqual(['ready', 'before-quit', 'before-quit', 'will-quit', 'quit']);
    expect(report.quitRequests).toBe(2);
    expect(report.forksAfterQuit[0]!.exit).toEqual({ code: null, signal: 'SIGTERM' });
    const dbPath = join(home, '.mdpo-studio', 'studio.db');
    // A store closed properly leaves no WAL file behind (the last connection checkpoints it).
    expect(existsSync(`${dbPath}-wal`)).toBe(false);
    const db = new Database(dbPath, { readonly: true });
    try {
      const run = db.prepare('SELECT status, step FROM runs WHERE id = ?').get(report.runId) as { status: string; step: number };
      expect(run.status).toBe('interrupted');
      expect(run.step).toBeGreaterThanOrEqual(1);
    } finally {
      db.close();
    }
  });
});

describe('the built desktop bundle when it cannot open its store', () => {
  const failing = async (name: string, prepare: (home: string) => void, vars: Record<string, string> = {}) => {
    const dir = join(tmp, name);
    mkdirSync(join(dir, 'home'), { recursive: true });
    prepare(join(dir, 'home'));
    return runDriver({ HOME: join(dir, 'home'), BOOT_MODE: 'startup-failure', BOOT_REPORT: join(dir, 'report.json'), ...vars });
  };

  it('no better-sqlite3 build it can load: a dialog says which and the app exits 1, with no window or IPC', async () => {
    const r = await failing('no-binding', () => {}, { MDPO_SQLITE_BINDING: '/nowhere/better_sqlite3.node' });
    expect(r.error).toBeUndefined();
    expect(r.errorBoxes).toEqual([['mDPO Studio could not open its data folder', 'MDPO_SQLITE_BINDING names /nowhere/better_sqlite3.node, which does not exist.']]);
    expect(r.exitCode).toBe(1);
    expect(r.windows).toBe(0);
    expect(r.channels).toEqual([]);
  }, 60_000);

  it('a database from a newer build: the dialog says so and the database is left as it was', async () => {
    let dbPath = '';
    const r = await failing('future-db', (h) => {
      mkdirSync(join(h, '.mdpo-studio'));
      dbPath = join(h, '.mdpo-studio', 'studio.db');
      const db = new Database(dbPath);
      db.pragma('user_version = 99');
      db.close();
    });
    expect(r.errorBoxes).toHaveLength(1);
    expect(r.errorBoxes![0]![1]).toMatch(/^This database was written by mDPO Studio schema v99; this build understands up to v\d+\. Upgrade the app or use another data folder\.$/);
    expect(r.exitCode).toBe(1);
    expect(r.windows).toBe(0);
    const db = new Database(dbPath, { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(99);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()).toEqual({ n: 0 });
    db.close();
  }, 60_000);
});
