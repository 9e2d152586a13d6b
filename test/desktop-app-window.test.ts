/**
 * `npm start` where no Electron binary can be had (issue 19): browser mode in an app window of
 * a Chromium-family browser, and closing the window stops the server. The search and the
 * arguments are unit-tested; the whole thing runs under Xvfb with Debian's chromium: the window
 * opens, shows the app (screenshot: test-artifacts/desktop/app-window.png), and closing it
 * (Ctrl+W, like a user) ends the server and `npm start`.
 *
 * Needs Xvfb, chromium, xdotool and ImageMagick's `import` (.ci/run installs them); skipped
 * without them locally, failed without them in CI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { appWindowArgs, browserCandidates, findBrowser } from '../scripts/desktop/app-window';

const ROOT = resolve(__dirname, '..');

describe('finding a Chromium-family browser', () => {
  it('Linux: MDPO_BROWSER first, then chromium, chrome, edge on PATH, in that order', () => {
    const env = { PATH: '/usr/local/bin:/usr/bin', MDPO_BROWSER: '/opt/brave/brave' };
    const c = browserCandidates({ platform: 'linux', env });
    expect(c.slice(0, 5)).toEqual(['/opt/brave/brave', '/usr/local/bin/chromium', '/usr/bin/chromium', '/usr/local/bin/chromium-browser', '/usr/bin/chromium-browser']);
    expect(c).toContain('/usr/bin/google-chrome-stable');
    expect(c).toContain('/usr/bin/microsoft-edge');
    const have = new Set(['/usr/bin/google-chrome', '/usr/bin/microsoft-edge']);
    expect(findBrowser({ platform: 'linux', env: { PATH: '/usr/local/bin:/usr/bin' }, exists: (p) => have.has(p) })).toBe('/usr/bin/google-chrome');
    expect(findBrowser({ platform: 'linux', env: { PATH: '/usr/bin' }, exists: () => false })).toBeNull();
  });

  it('macOS and Windows: the usual install folders', () => {
    expect(browserCandidates({ platform: 'darwin', env: { HOME: '/Users/u' } })).toEqual([
      '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
      '/Applications/Chromium.app/Contents/MacOS/Chromium',
      '/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge',
      '/Users/u/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
      '/Users/u/Applications/Chromium.app/Contents/MacOS/Chromium',
      '/Users/u/Applications/Microsoft Edge.app/Contents/MacOS/Microsoft Edge',
    ]);
    const win = browserCandidates({ platform: 'win32', env: { PROGRAMFILES: 'C:\\Program Files', 'PROGRAMFILES(X86)': 'C:\\Program Files (x86)', LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' } });
    expect(win[0]).toBe('C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe');
    expect(win).toContain('C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe');
    expect(win).toContain('C:\\Users\\u\\AppData\\Local\\Chromium\\Application\\chrome.exe');
  });

  it('an app window on a fresh profile; --no-sandbox only as root', () => {
    expect(appWindowArgs('http://127.0.0.1:5/?token=t', '/tmp/p', false)).toEqual([
      '--app=http://127.0.0.1:5/?token=t', '--user-data-dir=/tmp/p', '--no-first-run', '--no-default-browser-check', '--window-size=1280,820',
    ]);
    expect(appWindowArgs('http://x/', '/tmp/p', true).at(-1)).toBe('--no-sandbox');
  });
});

const tools = ['Xvfb', 'chromium', 'xdotool', 'import'];
const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const electronInstalled = existsSync(join(ROOT, 'node_modules', 'electron', 'path.txt'));
if (missing.length && process.env.CI === 'true' && process.platform === 'linux') {
  throw new Error(`desktop-app-window: ${missing.join(', ')} missing; .ci/run installs xvfb, chromium, xdotool and imagemagick`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => T | null | undefined | false, ms: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/**
 * Screenshots the X display until it shows the app: mostly the light page, with the welcome
 * screen's blue button (rgb 37, 99, 235). The last screenshot stays at `file`.
 */
async function screenshotOfApp(file: string, env: NodeJS.ProcessEnv): Promise<{ light: number; blue: number }> {
  let last = { light: 0, blue: 0 };
  for (let i = 0; i < 60; i++) {
    if (spawnSync('import', ['-window', 'root', file], { env }).status === 0) {
      const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      let light = 0;
      let blue = 0;
      for (let p = 0; p < data.length; p += info.channels) {
        const [r, g, b] = [data[p]!, data[p + 1]!, data[p + 2]!];
        if (r > 235 && g > 235 && b > 235) light++;
        if (Math.abs(r - 37) < 20 && Math.abs(g - 99) < 25 && Math.abs(b - 235) < 25) blue++;
      }
      last = { light: light / (info.width * info.height), blue };
      if (last.light > 0.5 && last.blue > 1000) return last;
    }
    await sleep(500);
  }
  throw new Error(`the window never showed the app (last screenshot ${file}: ${JSON.stringify(last)})`);
}

describe.runIf(process.platform === 'linux' && missing.length === 0 && !electronInstalled)('npm start without Electron, under Xvfb with chromium', () => {
  const started: ChildProcess[] = [];
  let tmp = '';
  afterAll(() => {
    for (const p of started) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('opens an app window that shows the app; closing the window stops the server and npm start', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'mdpo-window-test-'));
    let display = 90 + (process.pid % 50);
    while (existsSync(`/tmp/.X11-unix/X${display}`) || existsSync(`/tmp/.X${display}-lock`)) display++;
    const xvfb = spawn('Xvfb', [`:${display}`, '-screen', '0', '1400x900x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
    started.push(xvfb);
    await until('Xvfb', () => existsSync(`/tmp/.X11-unix/X${display}`), 20_000);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      DISPLAY: `:${display}`,
      MDPO_HOME: join(tmp, 'home'),
      // Electron's download must fail here as on an offline machine, whatever the network.
      ELECTRON_MIRROR: 'http://127.0.0.1:9/',
    };
    delete env.MDPO_BROWSER;
    const start = spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    started.push(start);
    let output = '';
    start.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    start.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const startExit = new Promise<number | null>((res) => start.once('exit', (code) => res(code)));

    const url = await until('the URL', () => /http:\/\/127\.0\.0\.1:(\d+)\/\?token=[0-9a-f]{64}/.exec(output), 180_000);
    const port = Number(url[1]);
    expect(output).toContain('No Electron binary on this machine');
    expect(output).toContain('browser mode in an app window of');
    // The window's title is the page's <title> once the app has loaded from the server.
    const windowId = await until(
      'the app window',
      () => spawnSync('xdotool', ['search', '--name', '^mDPO Studio$'], { env, encoding: 'utf8' }).stdout.trim().split('\n')[0],
      90_000,
    );
    expect(await portOpen(port)).toBe(true);

    // The rendered app: mostly the light page, with the welcome screen's blue button.
    const shot = join(ROOT, 'test-artifacts', 'desktop', 'app-window.png');
    mkdirSync(join(ROOT, 'test-artifacts', 'desktop'), { recursive: true });
    const pixels = await screenshotOfApp(shot, env);
    expect(pixels.light).toBeGreaterThan(0.5);

    // Close the window like a user (Ctrl+W in the app window).
    spawnSync('xdotool', ['key', '--window', windowId, 'ctrl+w'], { env });
    const code = await Promise.race([startExit, sleep(60_000).then(() => 'timeout' as const)]);
    expect(code).toBe(0);
    expect(output).toContain('The window was closed; stopping the server.');
    expect(await portOpen(port)).toBe(false);
    expect(spawnSync('xdotool', ['search', '--name', '^mDPO Studio$'], { env, encoding: 'utf8' }).stdout.trim()).toBe('');
    xvfb.kill('SIGTERM');
  }, 300_000);
});
