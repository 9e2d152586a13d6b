/**
 * `npm run demo`: from the shipped base model, build preference pairs (sample + judge), train
 * DPO and mDPO with the same settings and seed, evaluate base / DPO / mDPO on held-out scenes,
 * and write results.json, results.md and a self-contained report.html.
 *
 *   npm run demo                          # default settings (<= 10 min on 2 CPU cores)
 *   npm run demo -- --quick               # a few steps on a few scenes (about a minute)
 *   options: --out DIR (default demo-output) --base DIR (default resources/base-model)
 *            --home DIR (also write the runs into the app's run store there; default: none,
 *            or $MDPO_HOME when --store is given) --store
 *            --seed N --steps N --epochs N --lr X --pair-scenes N --eval-scenes N
 *            --reliance-scenes N --batch-size N --grad-accum N --backend NAME --samples N
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runDemo, terminalProgress, type DemoOptions, type StudyHooks } from '../src/core/demo';
import type { BackendName } from '../src/core/backend';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'demo-output' },
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
  },
});

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

async function main(): Promise<void> {
  const started = Date.now();
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
  } finally {
    close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
