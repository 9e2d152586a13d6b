/**
 * `npm run demo`: from the shipped base model, build preference pairs (sample + judge), train
 * DPO and mDPO with the same settings and seed, evaluate base / DPO / mDPO on held-out scenes,
 * and write results.json, results.md and a self-contained report.html.
 *
 *   npm run demo                          # default settings (<= 10 min on 2 CPU cores)
 *   npm run demo -- --quick               # a few steps on a few scenes (about a minute)
 *   options: --out DIR (default runs/demo) --base DIR (default resources/base-model)
 *            --home DIR (also write the runs into the app's run store in DIR)
 *            --store (the same, into $MDPO_HOME or ~/.mdpo-studio)
 *            --seed N --steps N --epochs N --lr X --pair-scenes N --eval-scenes N
 *            --reliance-scenes N --batch-size N --grad-accum N --backend NAME --samples N
 *            --screenshot PNG (also save a picture of the report; needs Debian's chromium)
 *   npx tsx scripts/demo.ts --screenshot-of DIR/report.html --screenshot DIR/report.png
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo, terminalProgress, type DemoOptions, type StudyHooks } from '../src/core/demo';
import type { BackendName } from '../src/core/backend';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: path.join('runs', 'demo') },
    base: { type: 'string', default: path.join('resources', 'base-model') },
    quick: { type: 'boolean', default: false },
    home: { type: 'string' },
    store: { type: 'boolean', default: false },
    seed: { type: 'string' },
    steps: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    'pair-scenes': { type: 'string' },
    'eval-scenes': { type: 'string' },
    'reliance-scenes': { type: 'string' },
    'batch-size': { type: 'string' },
    'grad-accum': { type: 'string' },
    samples: { type: 'string' },
    backend: { type: 'string' },
    /** Also save a full-page PNG of report.html (playwright-core + Debian chromium). */
    screenshot: { type: 'string' },
    /** Only screenshot an existing report: --screenshot-of report.html --screenshot out.png */
    'screenshot-of': { type: 'string' },
  },
});

/** A full-page screenshot of a local HTML file with a headless Chromium (no network). */
async function screenshot(html: string, png: string): Promise<void> {
  const { chromium } = await import('playwright-core');
  const { mkdtemp, rm } = await import('node:fs/promises');
  const os = await import('node:os');
  const { pathToFileURL } = await import('node:url');
  const profile = await mkdtemp(path.join(os.tmpdir(), 'demo-shot-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(pathToFileURL(path.resolve(html)).href);
    await page.screenshot({ path: png, fullPage: true });
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

async function main(): Promise<void> {
  const started = Date.now();
  if (values['screenshot-of']) {
    await screenshot(values['screenshot-of'], values.screenshot ?? values['screenshot-of'].replace(/\.html$/, '.png'));
    return;
  }
  const options: DemoOptions = {
    baseDir: values.base,
    outDir: values.out,
    preset: values.quick ? 'quick' : 'full',
    seeds: values.seed === undefined ? undefined : [Number(values.seed)],
    steps: num(values.steps),
    epochs: num(values.epochs),
    learningRate: num(values.lr),
    pairScenes: num(values['pair-scenes']),
    evalScenes: num(values['eval-scenes']),
    relianceScenes: num(values['reliance-scenes']),
    batchSize: num(values['batch-size']),
    gradAccum: num(values['grad-accum']),
    samples: num(values.samples),
    backend: values.backend as BackendName | undefined,
    command: `npm run demo${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  };
  const log = (line: string) => process.stderr.write(`${line}\n`);
  let hooks: StudyHooks = { onProgress: terminalProgress(process.stderr), onLog: log };
  let close = (): void => {};
  const home = values.home ?? (values.store ? process.env.MDPO_HOME : undefined);
  if (home || values.store) {
    const { openDemoStore } = await import('../src/main/demo-store');
    const s = openDemoStore(home);
    hooks = { ...hooks, ...s.hooks };
    close = () => s.close();
    log(`writing the runs into the run store ${s.path}`);
  }
  const controller = new AbortController();
  process.once('SIGINT', () => {
    log('\ncancelling (Ctrl+C again to quit now)');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  try {
    const r = await runDemo(options, { ...hooks, signal: controller.signal });
    const arms = r.results.arms;
    const pct = (v: number | null | undefined) => (v == null ? '–' : (100 * v).toFixed(1));
    log('');
    for (const a of arms) {
      const s = a.summary;
      log(`${a.name.padEnd(6)} CHAIR_s ${pct(s.chair_s?.mean)}  CHAIR_i ${pct(s.chair_i?.mean)}  Cover ${pct(s.cover?.mean)}  POPE adv F1 ${pct(s.pope_adversarial_f1?.mean)}  reliance ${s.reliance?.mean?.toFixed(2) ?? '–'}`);
    }
    log(`\nwrote ${r.files.md}\n      ${r.files.json}\n      ${r.files.html}\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s`);
    if (values.screenshot) {
      await screenshot(r.files.html, values.screenshot);
      log(`      ${values.screenshot}`);
    }
  } finally {
    close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
