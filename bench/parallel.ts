/**
 * Experiment: data parallelism over the machine's cores with worker_threads, each worker a
 * separate tfjs-wasm instance (wasm is single-threaded in Node) holding its own copy of the
 * model and scoring 1/W of the micro-batch. The main thread sums the gradients and computes
 * the global norm; each worker applies the same clipped AdamW step. Per step the traffic is
 * two copies of the LoRA gradients per worker (~1.3 MB for the demo model at rank 64).
 *
 * Run: npx tsx bench/parallel.ts [size] [variant] [steps]  — prints step times for 1 and 2
 * workers (same code path), so the ratio is the parallel speed-up net of its overhead.
 */
import { Worker } from 'node:worker_threads';
import type { VariantName } from '../src/core/objective/variants';
import type { SizeName } from './setup';
import { summarize, type Summary } from './stats';
import type { FromWorker, ToWorker, WorkerInit } from './parallel-worker';

const WORKER = new URL('./parallel-worker.ts', import.meta.url).href;
const BOOT = new URL('./parallel-boot.mjs', import.meta.url);

function next(w: Worker): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: FromWorker) => {
      w.off('error', onErr);
      resolve(m);
    };
    const onErr = (e: Error) => {
      w.off('message', onMsg);
      reject(e);
    };
    w.once('message', onMsg);
    w.once('error', onErr);
  });
}

export interface ParallelRun {
  workers: number;
  stepMs: Summary;
  /** CPU time of the whole process (every thread) per step. */
  cpuMs: Summary;
  losses: number[];
}

export async function runParallel(size: SizeName, variant: VariantName, workers: number, steps: number, batch = 8, loraRank = 64): Promise<ParallelRun> {
  const per = Math.ceil(batch / workers);
  const ws = Array.from({ length: workers }, (_, k) => {
    const init: WorkerInit = { size, variant, loraRank, batch, from: k * per, to: Math.min(batch, (k + 1) * per) };
    // Workers run TypeScript through tsx's loader (registered by the boot file), like the main thread.
    return new Worker(BOOT, { workerData: { ...init, entry: WORKER } });
  });
  try {
    await Promise.all(ws.map(async (w) => {
      const m = await next(w);
      if (m.kind !== 'ready') throw new Error(`worker: expected ready, got ${m.kind}`);
    }));
    const ms: number[] = [];
    const cpu: number[] = [];
    const losses: number[] = [];
    for (let s = 0; s < steps + 1; s++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const replies = await Promise.all(ws.map((w) => {
        const p = next(w);
        w.postMessage({ kind: 'grads' } satisfies ToWorker);
        return p;
      }));
      const parts = replies.map((r) => {
        if (r.kind !== 'grads') throw new Error(`worker: expected grads, got ${r.kind}`);
        return r;
      });
      const sum = parts[0].grads.map((g) => Float64Array.from(g));
      for (const p of parts.slice(1)) p.grads.forEach((g, i) => g.forEach((v, j) => (sum[i][j] += v)));
      let sq = 0;
      for (const g of sum) for (const v of g) sq += v * v;
      const norm = Math.sqrt(sq);
      const applied = await Promise.all(ws.map((w) => {
        const p = next(w);
        const grads = sum.map((g) => Float32Array.from(g));
        w.postMessage({ kind: 'apply', grads, norm } satisfies ToWorker, grads.map((a) => a.buffer));
        return p;
      }));
      const wall = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (applied.some((r) => r.kind !== 'applied')) throw new Error('worker: expected applied');
      if (s > 0) {
        // step 0 warms up (first kernels, first allocation)
        ms.push(wall);
        cpu.push((c.user + c.system) / 1000);
      }
      losses.push(parts.reduce((a, p) => a + p.loss, 0));
    }
    return { workers, stepMs: summarize(ms), cpuMs: summarize(cpu), losses };
  } finally {
    for (const w of ws) w.postMessage({ kind: 'stop' } satisfies ToWorker);
    await Promise.all(ws.map((w) => new Promise((r) => w.once('exit', r))));
  }
}

async function main(): Promise<void> {
  const [size = 'demo', variant = 'mdpo', steps = '4'] = process.argv.slice(2);
  for (const workers of [1, 2, 1, 2]) {
    const r = await runParallel(size as SizeName, variant as VariantName, workers, Number(steps));
    console.log(`${size}/${variant} ${workers} worker(s): step ${r.stepMs.median.toFixed(0)} ms [${r.stepMs.min.toFixed(0)}-${r.stepMs.max.toFixed(0)}], process cpu ${r.cpuMs.median.toFixed(0)} ms; losses ${r.losses.map((l) => l.toFixed(5)).join(' ')}`);
  }
}

if (process.argv[1]?.endsWith('parallel.ts')) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
