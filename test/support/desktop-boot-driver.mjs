// Test driver for test/desktop-boot.test.ts (test code only). Runs the BUILT Electron main
// entry (out/main/index.js) in plain Node with ./electron-standin.mjs in place of 'electron'
// (node --import ./electron-standin-register.mjs), drives it like Electron would (ready, window
// shown, IPC calls from the window or from elsewhere, quit), and writes what happened to
// BOOT_REPORT as JSON. The test makes the assertions.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, standin } from './electron-standin.mjs';

const OUT = process.env.BOOT_OUT;
const DATASET = process.env.BOOT_DATASET;
const REPORT = process.env.BOOT_REPORT;
const EVENTS_CHANNEL = process.env.BOOT_EVENTS_CHANNEL;
const report = { steps: [] };
const step = (name) => report.steps.push(name);

async function until(what, cond, ms = 60_000) {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

try {
  await import(pathToFileURL(join(OUT, 'main', 'index.js')).href);
  step('imported');
  if (process.env.BOOT_MODE === 'startup-failure') {
    // The app cannot open its store: it must say why and exit, with no window.
    await until('app.exit', () => standin.exitCode !== null, 30_000);
    Object.assign(report, { errorBoxes: standin.errorBoxes, exitCode: standin.exitCode, windows: standin.windows.length, channels: [...standin.handlers.keys()] });
    writeFileSync(REPORT, JSON.stringify(report, null, 2));
    process.exit(0);
  }
  await until('the app window', () => standin.windows.length > 0, 30_000);
  const win = standin.windows[0];
  report.window = { options: win.options, loaded: win.loaded, shownBeforeReady: win.shown };
  win.emit('ready-to-show');
  report.window.shownAfterReady = win.shown;
  report.window.openHandler = win.webContents.openHandler?.({ url: 'https://example.org/' }) ?? null;
  report.external = [...standin.external];
  const navigate = win.webContents.listeners('will-navigate')[0];
  let prevented = false;
  navigate?.({ preventDefault: () => (prevented = true) }, 'https://evil.example/');
  report.window.navigationPrevented = prevented;
  report.channels = [...standin.handlers.keys()];
  report.appListeners = Object.fromEntries(['before-quit', 'window-all-closed', 'activate'].map((e) => [e, app.listenerCount(e)]));
  const appFile = win.loaded[0]?.kind === 'file' ? win.loaded[0].target : null;
  const trusted = { sender: { id: win.webContents.id }, senderFrame: { url: pathToFileURL(appFile ?? '/missing').href, parent: null } };
  const call = (channel, input, event = trusted) => standin.handlers.get(channel)(event, input);

  // Untrusted senders, on every channel: a page elsewhere, a subframe, another webContents.
  const untrusted = {
    foreignPage: { ...trusted, senderFrame: { url: 'https://evil.example/index.html', parent: null } },
    subframe: { ...trusted, senderFrame: { ...trusted.senderFrame, parent: {} } },
    otherWebContents: { ...trusted, sender: { id: 9999 } },
    goneFrame: { ...trusted, senderFrame: null },
  };
  report.refused = {};
  for (const [name, event] of Object.entries(untrusted)) {
    report.refused[name] = {};
    for (const channel of standin.handlers.keys()) report.refused[name][channel] = await call(channel, {}, event);
  }

  report.info = await call('app:info', undefined);
  step('info');
  const imported = await call('datasets:import', { path: DATASET });
  report.imported = imported.ok ? { ok: true, id: imported.value.id, valid: imported.value.counts.valid } : imported;
  if (!imported.ok) throw new Error(`datasets:import: ${JSON.stringify(imported.error)}`);
  const created = await call('runs:create', {
    config: { datasetId: imported.value.id, variant: 'mdpo', backend: 'wasm', batchSize: 2, gradAccum: 1, epochs: 1000, maxSteps: 100000, checkpointEvery: 0, learningRate: 0.001, lora: { rank: 4, alpha: 8 }, seed: 1 },
  });
  if (!created.ok) throw new Error(`runs:create: ${JSON.stringify(created.error)}`);
  const runId = created.value[0].id;
  report.runId = runId;
  step('run created');
  // A trainer that is really training: progress events reach the window.
  const progress = () => win.webContents.sent.filter((s) => s.channel === EVENTS_CHANNEL && s.payload.type === 'run:progress' && s.payload.runId === runId);
  await until('training progress in the window', () => progress().length >= 2, 180_000);
  report.progressSteps = progress().map((s) => s.payload.step);
  report.forks = standin.forks.map((f) => ({ entry: f.entry, pid: f.pid, serviceName: f.options?.serviceName, exitBeforeQuit: f.exit }));
  step('training');

  // Quit: the app must stop the trainer and close the store before it lets the quit through.
  app.quit();
  report.quitPreventedFirst = !standin.appEvents.includes('quit');
  await Promise.race([standin.quitted, new Promise((_, rej) => setTimeout(() => rej(new Error('the app did not finish quitting in 60 s')), 60_000))]);
  report.appEvents = standin.appEvents;
  report.quitRequests = standin.quitRequests;
  report.forksAfterQuit = standin.forks.map((f) => ({ pid: f.pid, exit: f.exit }));
  // Which better-sqlite3 binary this process loaded (Linux: its memory map).
  try {
    report.maps = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith('.node')).map((l) => l.split(/\s+/).pop());
  } catch {
    report.maps = null;
  }
  step('quit');
} catch (error) {
  report.error = String(error?.stack ?? error);
}
writeFileSync(REPORT, JSON.stringify(report, null, 2));
process.exit(0);
