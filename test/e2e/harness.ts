/**
 * What the browser test needs around the page: a built renderer, `npm run serve` (or the CLI's
 * serve command directly) on a temp data folder, and Debian's Chromium through playwright-core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test-artifacts', 'e2e');

function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/**
 * out/renderer when it is newer than the renderer's sources (CI builds before testing), else a
 * fresh renderer build into test-artifacts/ (the shared out/ is left alone).
 */
export async function rendererDir(): Promise<string> {
  const built = join(ROOT, 'out', 'renderer');
  const index = join(built, 'index.html');
  const sources = Math.max(newest(join(ROOT, 'src', 'renderer')), newest(join(ROOT, 'src', 'shared')));
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return built;
  const outDir = join(ROOT, 'test-artifacts', 'e2e-renderer');
  const { build } = await import('vite');
  const { svelte } = await import('@sveltejs/vite-plugin-svelte');
  await build({
    configFile: false,
    root: join(ROOT, 'src', 'renderer'),
    base: './',
    logLevel: 'warn',
    plugins: [svelte()],
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

export interface Served {
  url: string;
  child: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

/** `npm run serve` when package.json has it, else the CLI entry through tsx. */
export async function serve(home: string, renderer: string, timeoutMs = 150_000): Promise<Served> {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const args = ['--port', '0', '--renderer', renderer, '--home', home];
  const [cmd, argv] = pkg.scripts?.serve
    ? ['npm', ['run', '--silent', 'serve', '--', ...args]]
    : ['npx', ['tsx', 'src/main/cli.ts', 'serve', ...args]];
  // Its own process group, so that stopping it also stops npm's child and the trainers.
  const child = spawn(cmd, argv, { cwd: ROOT, env: { ...process.env, MDPO_HOME: home }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve printed no URL within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const check = () => {
      const m = /(http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`serve exited with ${code}:\n${output}`));
    });
  });
  return { url, child, log: () => output, stop };
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
