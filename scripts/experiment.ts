/**
 * `npm run experiment`: the full study of docs/world.md#the-experiment. Arms: base, dpo, mdpo, mdpo-no-conditional,
 * mdpo-no-anchor, dpo-no-image, and mDPO with other negative images (crop 20-50%, a random other
 * image; crop 1-20% is mdpo itself), each trained with every seed from the same base and pairs.
 * Writes results.json, results.md (mean ± std over seeds) and report.html.
 *
 *   npm run experiment                                   # defaults: 3 seeds, the demo's settings
 *   npm run experiment -- --seeds 1,2,3,4,5 --steps 40 --eval-scenes 200 --workers 2
 *   options: --out DIR (default runs/experiment) --base DIR --arms a,b,... --epochs N --lr X
 *            --pair-scenes N --reliance-scenes N --batch-size N --grad-accum N --backend NAME
 *            --workers N (processes sharing the jobs; default 1)
 *            --pope-pairs N (also sample and judge N adversarial POPE questions per pair scene; default 0)
 *
 * Each finished (arm, seed) is kept in DIR/parts/, so rerunning the same command resumes.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EXPERIMENT_ARMS, experimentJobs, findArms, runExperiment, terminalProgress, type ExperimentOptions } from '../src/core/demo';
import type { BackendName } from '../src/core/backend';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: path.join('runs', 'experiment') },
    base: { type: 'string', default: path.join('resources', 'base-model') },
    seeds: { type: 'string', default: '1,2,3' },
    arms: { type: 'string' },
    steps: { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    'pair-scenes': { type: 'string' },
    'pope-pairs': { type: 'string' },
    'eval-scenes': { type: 'string' },
    'reliance-scenes': { type: 'string' },
    'batch-size': { type: 'string' },
    'grad-accum': { type: 'string' },
    samples: { type: 'string' },
    backend: { type: 'string' },
    quick: { type: 'boolean', default: false },
    workers: { type: 'string', default: '1' },
    /** internal: this process runs only these jobs and does not assemble. */
    only: { type: 'string' },
  },
});

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
const seeds = values.seeds.split(',').map((s) => Number(s.trim()));
if (seeds.some((s) => !Number.isInteger(s))) throw new Error(`--seeds: expected integers separated by commas, got "${values.seeds}"`);
const arms = values.arms ? findArms(['base', ...values.arms.split(',').map((s) => s.trim()).filter((s) => s !== 'base')]) : EXPERIMENT_ARMS;
const args = process.argv.slice(2).filter((a, i, all) => a !== '--only' && all[i - 1] !== '--only' && !a.startsWith('--only='));
const command = `npm run experiment${args.length ? ` -- ${args.join(' ')}` : ''}`;

const options: ExperimentOptions = {
  baseDir: values.base,
  outDir: values.out,
  preset: values.quick ? 'quick' : 'full',
  arms,
  seeds,
  steps: num(values.steps),
  epochs: num(values.epochs),
  learningRate: num(values.lr),
  pairScenes: num(values['pair-scenes']),
  popePairs: num(values['pope-pairs']),
  evalScenes: num(values['eval-scenes']),
  relianceScenes: num(values['reliance-scenes']),
  batchSize: num(values['batch-size']),
  gradAccum: num(values['grad-accum']),
  samples: num(values.samples),
  backend: values.backend as BackendName | undefined,
  command,
};

const log = (line: string) => process.stderr.write(`${line}\n`);

function worker(jobs: string[], index: number): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [...process.execArgv, self, ...args, '--only', jobs.join(',')], { stdio: ['ignore', 'inherit', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => {
    for (const line of d.toString().split(/\r|\n/)) if (line.trim() && !line.startsWith('Warning: max')) process.stderr.write(`[w${index}] ${line.split('\u001b[2K').join('')}\n`);
  });
  return new Promise((resolve, reject) => child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${index} exited with ${code}`)))));
}

async function main(): Promise<void> {
  const started = Date.now();
  if (values.only) {
    await runExperiment({ ...options, only: values.only.split(','), assemble: false }, { onProgress: terminalProgress(process.stderr, { everyMs: 20000 }), onLog: log });
    return;
  }
  const hooks = { onProgress: terminalProgress(process.stderr), onLog: log };
  const workers = Math.max(1, Number(values.workers));
  if (workers > 1) {
    // The main process builds the pairs and scores the base; workers share the rest round-robin.
    const jobs = experimentJobs(arms, seeds);
    await runExperiment({ ...options, only: [jobs[0]], assemble: false }, hooks);
    const rest = jobs.slice(1);
    const shares = Array.from({ length: workers }, (_, w) => rest.filter((_, i) => i % workers === w)).filter((s) => s.length > 0);
    log(`${rest.length} jobs on ${shares.length} worker processes`);
    await Promise.all(shares.map((s, i) => worker(s, i)));
  }
  const r = await runExperiment({ ...options, wallSeconds: undefined }, hooks);
  if (!r) return;
  const wall = (Date.now() - started) / 1000;
  // The recorded wall time is the whole command's, workers included.
  const { writeResults } = await import('../src/core/demo');
  r.results.wallSeconds = wall;
  await writeResults(r.outDir, r.results);
  log(`\nwrote ${r.files.md}\n      ${r.files.json}\n      ${r.files.html}\nwall time ${(wall / 60).toFixed(1)} min`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
