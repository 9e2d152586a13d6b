/**
 * The GPU check of issue 11: which WebGPU adapter Dawn gives us, matMul GFLOP/s and the
 * mDPO step time on webgpu against the CPU backends (wasm, cpu), and a parity gate (the
 * first mDPO step's loss on webgpu equals wasm's to 1e-4).
 *
 * Runs from the repo (`npx tsx scripts/gpu-check/check.ts --allow-software`) or bundled
 * (scripts/gpu-check/prepare.sh, then run-on-device.sh on a machine without Node).
 *
 *   --allow-software      accept a software adapter (lavapipe, SwiftShader); else refuse (exit 2)
 *   --out <file.json>     where the JSON goes (default: print only)
 *   --wasm-dir <dir>      folder holding tfjs-backend-wasm*.wasm (the bundle carries them)
 *   --sizes demo,large    model sizes (bench/setup.ts SIZES; 'tiny' for a smoke run)
 *   --matmul 512,1024,2048
 *   --gpu-steps 10 --cpu-steps 4 --cpu-steps-large 2   timed steps after warm-up
 *   --no-cpu              skip the plain-JS cpu backend (it runs on the first size only)
 *   --cpu-budget-s 40     ... and only when its steps are estimated (50x wasm's) to fit in this
 *   --deadline-s 270      write what is there and exit 3 after this long (matMul gets 30% of it,
 *                         no step run starts after 90%)
 *
 * Exit: 0 all measured and parity OK; 1 a measurement failed or parity failed; 2 the
 * adapter was refused (or none); 3 the deadline passed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import os from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describeBackend, initBackend, type BackendInfo, type BackendName } from '../../src/core/backend';
import { isSoftwareAdapter, releaseWebGpu } from '../../src/core/webgpu';
import { objectiveConfig } from '../../src/core/objective/variants';
import * as layers from '../../src/core/model/layers';
import { BenchSource, SIZES, SIZE_NAMES, parameterCount, type SizeName } from '../../bench/setup';
import { buildModel, runAppLoop } from '../../bench/ours';
import { appPlan, stepFlops, type BatchShape } from '../../bench/flops';
import { summarize, type Summary } from '../../bench/stats';

export const PARITY_TOL = 1e-4;
const BATCH = 8;
const LORA_RANK = 64;
const LR = 1e-4;
/** Step time of the cpu backend over wasm's, to decide whether the cpu steps fit (tiny model, lavapipe machine: 48x). */
const CPU_OVER_WASM = 50;

export interface CheckOptions {
  allowSoftware: boolean;
  out: string | null;
  wasmDir: string | null;
  sizes: SizeName[];
  matmulSizes: number[];
  gpuSteps: number;
  cpuSteps: number;
  cpuStepsLarge: number;
  cpu: boolean;
  cpuBudgetS: number;
  deadlineS: number;
}

export const DEFAULTS: CheckOptions = {
  allowSoftware: false,
  out: null,
  wasmDir: null,
  sizes: ['demo', 'large'],
  matmulSizes: [512, 1024, 2048],
  gpuSteps: 10,
  cpuSteps: 4,
  cpuStepsLarge: 2,
  cpu: true,
  cpuBudgetS: 40,
  deadlineS: 270,
};

export function parseArgs(argv: string[]): CheckOptions {
  const o: CheckOptions = { ...DEFAULTS };
  const int = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive integer, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--allow-software': o.allowSoftware = true; break;
      case '--out': o.out = next(); break;
      case '--wasm-dir': o.wasmDir = next(); break;
      case '--sizes': {
        const v = next().split(',');
        for (const s of v) if (!(SIZE_NAMES as readonly string[]).includes(s)) throw new Error(`Unknown size "${s}" (expected ${SIZE_NAMES.join(', ')})`);
        o.sizes = v as SizeName[];
        break;
      }
      case '--matmul': o.matmulSizes = next().split(',').map((v) => int(a, v)); break;
      case '--gpu-steps': o.gpuSteps = int(a, next()); break;
      case '--cpu-steps': o.cpuSteps = int(a, next()); break;
      case '--cpu-steps-large': o.cpuStepsLarge = int(a, next()); break;
      case '--no-cpu': o.cpu = false; break;
      case '--deadline-s': o.deadlineS = int(a, next()); break;
      case '--cpu-budget-s': o.cpuBudgetS = int(a, next()); break;
      default: throw new Error(`Unknown option ${a} (see scripts/gpu-check/check.ts)`);
    }
  }
  return o;
}

/** The three backends compared; webgpu is started as webgpu-software and judged by us (see adapter check). */
type Side = 'webgpu' | 'wasm' | 'cpu';

interface AdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  software: boolean;
  /** What src/core/backend.ts reports for it. */
  backendDevice: string;
  limits: Record<string, number>;
  features: string[];
}

interface MatMulRow {
  backend: Side;
  n: number;
  /** Matrix products timed per batch (read back once per batch with `await data()`). */
  perBatch: number;
  batches: number;
  msPerMatMul: number;
  gflops: number;
}

interface StepRow {
  size: SizeName;
  params: number;
  backend: Side;
  device: string;
  warmup: number;
  firstStepMs: number;
  stepMs: Summary;
  allStepMs: number[];
  flopsPerStep: number;
  gflops: number;
  pairsPerSec: number;
  loss1: number;
  gradNorm1: number;
  tensorGrowthPerStep: number;
}

interface ParityRow {
  size: SizeName;
  a: Side;
  b: Side;
  lossA: number;
  lossB: number;
  lossAbsDiff: number;
  gradNormRelDiff: number;
  ok: boolean;
}

export interface CheckResult {
  tool: 'scripts/gpu-check';
  startedAt: string;
  finishedAt: string | null;
  wallS: number;
  complete: boolean;
  ok: boolean;
  command: string;
  machine: { cpu: string; cores: number; memGiB: number; node: string; platform: string; tfjs: string; vkDriverFiles: string | null };
  options: CheckOptions;
  adapter: AdapterReport | null;
  refused: string | null;
  matmul: MatMulRow[];
  steps: StepRow[];
  parity: ParityRow[];
  errors: { what: string; message: string }[];
  /** Measurements left out by design (cpu steps over budget, matMul over the per-call cap). */
  skipped: string[];
}

interface GpuAdapterInfoLike { vendor?: string; architecture?: string; device?: string; description?: string }
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  limits?: Record<string, unknown>;
  features?: Iterable<string>;
}

async function adapterReport(info: BackendInfo): Promise<AdapterReport> {
  const gpu = (globalThis as unknown as { navigator?: { gpu?: { requestAdapter(o?: object): Promise<GpuAdapterLike | null> } } }).navigator?.gpu;
  const adapter = gpu ? await gpu.requestAdapter({ powerPreference: 'high-performance' }) : null;
  if (!adapter) throw new Error('navigator.gpu gave no adapter after the webgpu backend started');
  const i = adapter.info ?? {};
  const limits: Record<string, number> = {};
  const wanted = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize'];
  for (const k of wanted) {
    const v = adapter.limits?.[k];
    if (typeof v === 'number') limits[k] = v;
  }
  return {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    software: isSoftwareAdapter(i),
    backendDevice: info.device,
    limits,
    features: adapter.features ? [...adapter.features].sort() : [],
  };
}

const BACKEND_OF: Record<Side, BackendName> = { webgpu: 'webgpu-software', wasm: 'wasm', cpu: 'cpu' };

async function use(side: Side): Promise<BackendInfo> {
  return initBackend(BACKEND_OF[side]);
}

/**
 * GFLOP/s of an n x n x n tf.matMul: `perBatch` products queued back to back, then the last
 * one read with `await data()` (a GPU queue runs in order, so that waits for all of them).
 * perBatch doubles until a batch takes >= 150 ms (capped); the median of the timed batches counts.
 */
async function timeMatMul(side: Side, n: number, maxCallMs: number, prev: MatMulRow | undefined): Promise<MatMulRow | { skipped: string }> {
  if (prev) {
    const est = prev.msPerMatMul * (n / prev.n) ** 3;
    if (est > maxCallMs) return { skipped: `one ${n}^3 product would take ~${est.toFixed(0)} ms (from ${prev.n}^3; cap ${maxCallMs} ms)` };
  }
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  try {
    const batch = async (k: number): Promise<number> => {
      const s = performance.now();
      let last: tf.Tensor | null = null;
      for (let i = 0; i < k; i++) {
        last?.dispose();
        last = tf.matMul(a, b);
      }
      await last!.data();
      last!.dispose();
      return performance.now() - s;
    };
    const first = await batch(1); // warm-up: shader compile / wasm JIT / page-in
    if (first > maxCallMs) return { skipped: `one ${n}^3 product took ${first.toFixed(0)} ms (> ${maxCallMs} ms cap)` };
    let perBatch = 1;
    let ms = await batch(1);
    while (ms < 150 && perBatch < 256) {
      perBatch = Math.min(256, perBatch * Math.max(2, Math.ceil(150 / Math.max(ms, 1))));
      ms = await batch(perBatch);
    }
    const batches = ms * 3 > 3000 ? 1 : 3;
    const times = [ms];
    for (let i = 1; i < batches; i++) times.push(await batch(perBatch));
    const per = summarize(times).median / perBatch;
    return { backend: side, n, perBatch, batches, msPerMatMul: per, gflops: (2 * n ** 3) / (per * 1e6) };
  } finally {
    tf.dispose([a, b]);
  }
}

function batchShape(source: BenchSource, n: number): BatchShape {
  const ex = Array.from({ length: n }, (_, i) => source.example(i));
  return {
    pairs: ex.length,
    prompt: ex.map((e) => e.promptIds.length),
    chosen: ex.map((e) => e.chosenIds.length),
    rejected: ex.map((e) => e.rejectedIds.length),
  };
}

async function timeSteps(side: Side, device: string, size: SizeName, warmup: number, repeats: number): Promise<StepRow> {
  const config = SIZES[size];
  const source = new BenchSource(config, BATCH);
  // LoRA B random (not PEFT's 0) so policy != reference and the step-1 loss is a real number to compare.
  const model = buildModel({ config, loraRank: LORA_RANK, seed: 1, loraBStd: 0.02 });
  try {
    const r = await runAppLoop(model, source, { variant: 'mdpo', batchSize: BATCH, warmup, repeats, learningRate: LR });
    const mode = layers.loraForward.mode === 'merged' ? 'merged' : 'branch';
    const withImageless = objectiveConfig('mdpo').terms.conditional !== 0;
    const flops = stepFlops(config, LORA_RANK, appPlan(config, batchShape(source, BATCH), withImageless, false), mode).total;
    const timed = r.stepMs.slice(warmup);
    const s = summarize(timed.length > 0 ? timed : r.stepMs);
    return {
      size, params: parameterCount(config), backend: side, device, warmup,
      firstStepMs: r.stepMs[0], stepMs: s, allStepMs: r.stepMs,
      flopsPerStep: flops, gflops: flops / (s.median * 1e6), pairsPerSec: (1000 * BATCH) / s.median,
      loss1: r.firstMetrics.loss, gradNorm1: r.firstMetrics.grad_norm, tensorGrowthPerStep: r.tensorGrowthPerStep,
    };
  } finally {
    model.dispose();
  }
}

const f = (x: number | null | undefined, d = 1): string => (x == null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const ms = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export function formatTable(r: CheckResult): string {
  const L: string[] = [];
  L.push(`machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memGiB} GiB, node ${r.machine.node}, tfjs ${r.machine.tfjs}, VK_DRIVER_FILES=${r.machine.vkDriverFiles ?? '(unset)'}`);
  if (r.adapter) {
    const a = r.adapter;
    L.push(`adapter: vendor "${a.vendor}", architecture "${a.architecture}", device "${a.device}", description "${a.description}"${a.software ? ' [SOFTWARE]' : ''}`);
    L.push(`  limits: ${Object.entries(a.limits).map(([k, v]) => `${k}=${v}`).join(', ')}`);
  }
  if (r.refused) L.push(`REFUSED: ${r.refused}`);
  if (r.matmul.length > 0) {
    const ns = [...new Set(r.matmul.map((m) => m.n))].sort((x, y) => x - y);
    const sides = [...new Set(r.matmul.map((m) => m.backend))];
    L.push('');
    L.push(`| matMul GFLOP/s (ms per product) | ${ns.map((n) => `${n}³`).join(' | ')} |`);
    L.push(`|---|${ns.map(() => '---').join('|')}|`);
    for (const s of sides) {
      L.push(`| ${s} | ${ns.map((n) => { const m = r.matmul.find((x) => x.backend === s && x.n === n); return m ? `${f(m.gflops)} (${ms(m.msPerMatMul)})` : 'skipped'; }).join(' | ')} |`);
    }
  }
  if (r.steps.length > 0) {
    L.push('');
    L.push(`| mDPO step, batch ${BATCH}, LoRA r${LORA_RANK} | backend | step ms median [min-max] (n) | first step ms | pairs/s | GFLOP/step | GFLOP/s | step-1 loss | tensors/step |`);
    L.push('|---|---|---|---|---|---|---|---|---|');
    for (const s of r.steps) {
      L.push(`| ${s.size} (${(s.params / 1e6).toFixed(2)}M) | ${s.backend} | ${ms(s.stepMs.median)} [${ms(s.stepMs.min)}-${ms(s.stepMs.max)}] (${s.stepMs.n}) | ${ms(s.firstStepMs)} | ${f(s.pairsPerSec)} | ${f(s.flopsPerStep / 1e9, 2)} | ${f(s.gflops, 2)} | ${s.loss1.toFixed(6)} | ${f(s.tensorGrowthPerStep, 1)} |`);
    }
    const speed = r.steps.filter((s) => s.backend === 'webgpu').map((g) => {
      const w = r.steps.find((s) => s.size === g.size && s.backend === 'wasm');
      return w ? `${g.size}: webgpu ${f(w.stepMs.median / g.stepMs.median, 2)}x wasm` : null;
    }).filter((x): x is string => x !== null);
    if (speed.length > 0) L.push(`speed-up: ${speed.join('; ')}`);
  }
  for (const p of r.parity) {
    L.push(`parity ${p.size} ${p.a} vs ${p.b}: ${p.ok ? 'OK' : 'FAILED'} — step-1 loss ${p.lossA.toFixed(7)} vs ${p.lossB.toFixed(7)} (|d| ${p.lossAbsDiff.toExponential(2)}, tol ${PARITY_TOL}), grad norm rel ${p.gradNormRelDiff.toExponential(2)}`);
  }
  for (const s of r.skipped) L.push(`skipped ${s}`);
  for (const e of r.errors) L.push(`ERROR ${e.what}: ${e.message}`);
  L.push(`${r.complete ? 'complete' : 'INCOMPLETE'}, ${r.ok ? 'OK' : 'NOT OK'}, ${r.wallS.toFixed(0)} s`);
  return L.join('\n');
}

function tfjsVersion(): string {
  const v = (tf as unknown as { version_core?: string }).version_core;
  return v ?? 'unknown';
}

export function newResult(o: CheckOptions): CheckResult {
  return {
    tool: 'scripts/gpu-check',
    startedAt: new Date().toISOString(),
    finishedAt: null,
    wallS: 0,
    complete: false,
    ok: false,
    command: process.argv.slice(2).join(' '),
    machine: {
      cpu: os.cpus()[0]?.model?.trim() ?? 'unknown',
      cores: os.cpus().length,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      tfjs: tfjsVersion(),
      vkDriverFiles: process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? null,
    },
    options: o,
    adapter: null,
    refused: null,
    matmul: [],
    steps: [],
    parity: [],
    errors: [],
    skipped: [],
  };
}

/** Writes `r` (also a partial one) to --out. */
export function writeResult(o: CheckOptions, r: CheckResult, t0: number): void {
  r.finishedAt = new Date().toISOString();
  r.wallS = (performance.now() - t0) / 1000;
  if (o.out) {
    mkdirSync(dirname(resolve(o.out)), { recursive: true });
    writeFileSync(o.out, JSON.stringify(r, null, 2));
  }
}

/** Fills `r` as it goes, so a deadline can write what is there. */
export async function runCheck(o: CheckOptions, r: CheckResult, t0: number, log: (line: string) => void = (l) => console.log(l)): Promise<number> {
  const finish = (code: number): number => {
    writeResult(o, r, t0);
    return code;
  };
  const elapsed = () => (performance.now() - t0) / 1000;
  const fail = (what: string, err: unknown) => {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    r.errors.push({ what, message });
    log(`ERROR ${what}: ${message}`);
  };

  if (o.wasmDir) setWasmPaths(o.wasmDir.endsWith('/') ? o.wasmDir : `${o.wasmDir}/`);

  // 1. The adapter. Started as webgpu-software (accepts any adapter) so that we can report a
  //    software one before refusing it; the refusal rule is the app's own (isSoftwareAdapter).
  const devices: Partial<Record<Side, string>> = {};
  try {
    const info = await use('webgpu');
    devices.webgpu = describeBackend(info);
    r.adapter = await adapterReport(info);
    log(`adapter: ${r.adapter.vendor} / ${r.adapter.architecture} / ${r.adapter.device} / ${r.adapter.description}${r.adapter.software ? ' (software)' : ''}`);
    if (r.adapter.software && !o.allowSoftware) {
      r.refused = `software adapter (${r.adapter.description || r.adapter.device || r.adapter.vendor}); pass --allow-software to measure it anyway`;
    }
  } catch (err) {
    r.refused = `no WebGPU adapter: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  }
  if (r.refused) {
    log(`refused: ${r.refused}`);
    return finish(2);
  }
  for (const side of ['wasm', 'cpu'] as const) {
    if (side === 'cpu' && !o.cpu) continue;
    try {
      devices[side] = describeBackend(await use(side));
    } catch (err) {
      fail(`start ${side}`, err);
    }
  }
  const sides = (['webgpu', 'wasm', 'cpu'] as const).filter((s) => devices[s] !== undefined);
  log(`backends: ${sides.map((s) => devices[s]).join(' | ')}`);

  // 2. matMul throughput. CPU backends: one product capped (the cpu backend at 2048³ takes many seconds).
  for (const side of sides) {
    await use(side);
    for (const n of o.matmulSizes) {
      if (elapsed() > o.deadlineS * 0.3) { fail(`matMul ${side} ${n}`, new Error('skipped: matMul phase over its share of --deadline-s')); continue; }
      try {
        const prev = r.matmul.filter((x) => x.backend === side).pop();
        const m = await timeMatMul(side, n, side === 'webgpu' ? 10_000 : side === 'wasm' ? 4000 : 2500, prev);
        if ('skipped' in m) {
          log(`matMul ${side} ${n}: skipped, ${m.skipped}`);
          r.skipped.push(`matMul ${side} ${n}: ${m.skipped}`);
          continue;
        }
        r.matmul.push(m);
        writeResult(o, r, t0); // a hard kill (the wrapper's timeout) still leaves the rows so far
        log(`matMul ${side} ${n}: ${m.gflops.toFixed(1)} GFLOP/s (${m.msPerMatMul.toFixed(3)} ms, ${m.perBatch} per batch)`);
      } catch (err) {
        fail(`matMul ${side} ${n}`, err);
      }
    }
  }

  // 3. mDPO steps (the app's own loop): webgpu first (fast), then wasm; cpu on the smallest size only.
  for (const size of o.sizes) {
    const small = size === o.sizes[0];
    for (const side of sides) {
      if (side === 'cpu' && !small) continue;
      if (elapsed() > o.deadlineS * 0.9) { fail(`steps ${size} ${side}`, new Error('skipped: past 90% of --deadline-s')); continue; }
      if (side === 'cpu') {
        // Plain JS is ~50x slower than wasm per step (measured on the tiny model): run it only when that stays short.
        const w = r.steps.find((s) => s.size === size && s.backend === 'wasm');
        const est = w ? (w.stepMs.median * CPU_OVER_WASM * (1 + Math.min(2, o.cpuSteps))) / 1000 : Infinity;
        if (est > o.cpuBudgetS) {
          log(`steps ${size} cpu: skipped (estimated ${f(est, 0)} s > --cpu-budget-s ${o.cpuBudgetS})`);
          r.skipped.push(`steps ${size} cpu: estimated ${f(est, 0)} s > ${o.cpuBudgetS} s`);
          continue;
        }
      }
      const gpu = side === 'webgpu';
      const warmup = gpu ? 2 : 1;
      const repeats = gpu ? o.gpuSteps : side === 'cpu' ? Math.min(2, o.cpuSteps) : size === 'large' ? o.cpuStepsLarge : o.cpuSteps;
      try {
        await use(side);
        const row = await timeSteps(side, devices[side] ?? side, size, warmup, repeats);
        r.steps.push(row);
        writeResult(o, r, t0);
        log(`steps ${size} ${side}: ${row.allStepMs.map((x) => x.toFixed(0)).join(' ')} ms; median ${row.stepMs.median.toFixed(1)} ms; step-1 loss ${row.loss1.toFixed(7)}`);
      } catch (err) {
        fail(`steps ${size} ${side}`, err);
      }
    }
    const g = r.steps.find((s) => s.size === size && s.backend === 'webgpu');
    for (const other of ['wasm', 'cpu'] as const) {
      const c = r.steps.find((s) => s.size === size && s.backend === other);
      if (!g || !c) continue;
      const d = Math.abs(g.loss1 - c.loss1);
      r.parity.push({
        size, a: 'webgpu', b: other, lossA: g.loss1, lossB: c.loss1, lossAbsDiff: d,
        gradNormRelDiff: Math.abs(g.gradNorm1 - c.gradNorm1) / Math.max(1e-12, Math.abs(c.gradNorm1)),
        ok: Number.isFinite(d) && d <= PARITY_TOL,
      });
    }
  }

  r.complete = r.errors.length === 0;
  const parityWasm = r.parity.filter((p) => p.b === 'wasm');
  r.ok = r.complete && parityWasm.length === o.sizes.length && r.parity.every((p) => p.ok);
  return finish(r.ok ? 0 : 1);
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const result = newResult(o);
  const timer = setTimeout(() => {
    result.errors.push({ what: 'deadline', message: `--deadline-s ${o.deadlineS} passed; what was measured so far is kept` });
    result.complete = false;
    result.ok = false;
    writeResult(o, result, t0);
    console.log('');
    console.log(formatTable(result));
    releaseWebGpu();
    process.exit(3);
  }, o.deadlineS * 1000);
  timer.unref();
  const code = await runCheck(o, result, t0);
  clearTimeout(timer);
  console.log('');
  console.log(formatTable(result));
  if (o.out) console.log(`written: ${o.out}`);
  releaseWebGpu();
  process.exit(code);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  releaseWebGpu();
  process.exit(1);
});
