/**
 * The desktop window where Electron is missing: browser mode (`mdpo serve`) shown in an app
 * window (`--app=URL`, no tabs or address bar) of a Chromium-family browser found on the
 * system, with a fresh profile so the window is its own browser process. Closing the window
 * stops the server. Without such a browser, the URL is printed instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';

export interface BrowserSearch {
  platform: NodeJS.Platform;
  env: Record<string, string | undefined>;
  exists?: (path: string) => boolean;
}

/** Executable names looked up on PATH (Linux and other Unixes), in order of preference. */
export const UNIX_BROWSERS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'microsoft-edge', 'microsoft-edge-stable'];

/** Every place a Chromium-family browser may be, in order: MDPO_BROWSER first. */
export function browserCandidates({ platform, env }: BrowserSearch): string[] {
  const out: string[] = [];
  if (env.MDPO_BROWSER?.trim()) out.push(env.MDPO_BROWSER.trim());
  if (platform === 'darwin') {
    const apps = ['Google Chrome.app/Contents/MacOS/Google Chrome', 'Chromium.app/Contents/MacOS/Chromium', 'Microsoft Edge.app/Contents/MacOS/Microsoft Edge'];
    for (const base of ['/Applications', env.HOME ? join(env.HOME, 'Applications') : null]) {
      if (base) for (const app of apps) out.push(join(base, app));
    }
  } else if (platform === 'win32') {
    const bases = [env.PROGRAMFILES, env['PROGRAMFILES(X86)'], env.LOCALAPPDATA].filter((b): b is string => Boolean(b));
    for (const rel of ['Google\\Chrome\\Application\\chrome.exe', 'Chromium\\Application\\chrome.exe', 'Microsoft\\Edge\\Application\\msedge.exe']) {
      for (const base of bases) out.push(`${base}\\${rel}`);
    }
  } else {
    const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
    for (const name of UNIX_BROWSERS) for (const dir of dirs) out.push(join(dir, name));
  }
  return out;
}

export function findBrowser(search: BrowserSearch): string | null {
  const exists = search.exists ?? existsSync;
  return browserCandidates(search).find((p) => exists(p)) ?? null;
}

/**
 * The browser's arguments: an app window on a fresh profile (its own process, so its exit is
 * the window's close). As root (containers, CI) Chromium refuses to start without --no-sandbox.
 */
export function appWindowArgs(url: string, profileDir: string, asRoot: boolean): string[] {
  const args = [`--app=${url}`, `--user-data-dir=${profileDir}`, '--no-first-run', '--no-default-browser-check', '--window-size=1280,820'];
  if (asRoot) args.push('--no-sandbox');
  return args;
}

export interface WindowRun {
  /** The URL browser mode printed (with its token). */
  url: string;
  /** The browser used, or null when none was found (the URL was printed). */
  browser: string | null;
  /** Resolves with the server's exit code once everything has stopped. */
  done: Promise<number>;
  /** Closes the window (or, without one, stops the server). */
  stop(): void;
}

/** Waits for the JSON object `mdpo serve --json` prints first (it may span several lines). */
function readServeJson(server: ChildProcess): Promise<{ url: string; home: string }> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: server.stdout! });
    let text = '';
    lines.on('line', (line) => {
      text += line + '\n';
      try {
        const value = JSON.parse(text) as { url?: unknown; home?: unknown };
        lines.close();
        if (typeof value.url !== 'string' || typeof value.home !== 'string') reject(new Error(`mdpo serve printed ${text.trim()}, without url and home`));
        else resolve({ url: value.url, home: value.home });
      } catch {
        if (text.length > 100_000) reject(new Error('mdpo serve printed no JSON object'));
      }
    });
    server.once('exit', (code) => reject(new Error(`mdpo serve exited (code ${code}) before it printed its URL`)));
  });
}

export interface WindowOptions {
  root: string;
  env: Record<string, string | undefined>;
  log: (line: string) => void;
  platform?: NodeJS.Platform;
}

/** Starts browser mode and its app window; see WindowRun. */
export async function startBrowserWindow(options: WindowOptions): Promise<WindowRun> {
  const platform = options.platform ?? process.platform;
  const server = spawn(process.execPath, [join(options.root, 'src', 'main', 'bin', 'mdpo.mjs'), 'serve', '--json'], {
    cwd: options.root,
    env: options.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const serverExit = new Promise<number>((resolve) => server.once('exit', (code) => resolve(code ?? 1)));
  const { url, home } = await readServeJson(server);
  const browser = findBrowser({ platform, env: options.env });
  const stopServer = () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGTERM');
  };
  if (!browser) {
    options.log(`mDPO Studio (browser mode), data in ${home}`);
    options.log(`No Electron and no Chromium, Chrome or Edge found (set MDPO_BROWSER to one); open this in a browser:\n  ${url}`);
    options.log('Ctrl+C stops the server.');
    return { url, browser: null, done: serverExit, stop: stopServer };
  }
  const profile = mkdtempSync(join(tmpdir(), 'mdpo-window-'));
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  options.log(`mDPO Studio (browser mode in an app window of ${browser}), data in ${home}\n  ${url}\nClosing the window stops the server.`);
  const win = spawn(browser, appWindowArgs(url, profile, asRoot), { env: options.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let browserErr = '';
  win.stderr!.on('data', (chunk: Buffer) => {
    browserErr = (browserErr + chunk.toString()).slice(-4000);
  });
  const windowEnd = new Promise<'closed' | 'failed'>((resolve) => {
    win.once('exit', () => resolve('closed'));
    win.once('error', (error) => {
      options.log(`Could not start ${browser}: ${error.message}. Open this in a browser instead:\n  ${url}\nCtrl+C stops the server.`);
      resolve('failed');
    });
  });
  // Closing the window ends the browser process; the server goes with it.
  const done = windowEnd.then(async (end) => {
    if (end === 'closed') {
      if (win.exitCode) options.log(`${browser} exited with code ${win.exitCode}:\n${browserErr.trim().split('\n').slice(-5).join('\n')}`);
      options.log('The window was closed; stopping the server.');
      stopServer();
    }
    const code = await serverExit;
    rmSync(profile, { recursive: true, force: true });
    return code;
  });
  return {
    url,
    browser,
    done,
    stop: () => {
      if (win.pid !== undefined && win.exitCode === null && win.signalCode === null) win.kill('SIGTERM');
      else stopServer();
    },
  };
}
