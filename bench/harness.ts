/**
 * `npm run bench`: ours (the app's training loop) against the PyTorch peer, same model, same
 * weights, same batch, after a loss-parity check; then the ablation of issue 9's
 * optimizations and a per-kernel profile. Returns one JSON-able result; run.ts prints it.
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describeBackend, initBackend, type BackendName } from '../src/core/backend';
import { objectiveConfig, type VariantName } from '../src/core/objective/variants';
import { numImageTokens } from '../src/core/model/config';
import { BenchSource, SIZES, parameterCount, tokenStats, type SizeName } from './setup';
import { ablationStepper, buildModel, measureMatMulPeak, runAppLoop, timeSteps, type AblationSwitches } from './ours';
import { appPlan, ourPlan, stepFlops, trlPlan, type BatchShape, type LoraMode } from './flops';
import * as layers from '../src/core/model/layers';

/** The LoRA form the model uses now (layers.loraForward.mode where it exists; else two matMuls). */
function ourLoraMode(): LoraMode {
  const mode = (layers as { loraForward?: { mode?: string } }).loraForward?.mode;
  return mode === 'merged' ? 'merged' : 'branch';
}
import { peerUnavailable, runPeer, writeExchange } from './peer';
import { profileStep, type StepProfile } from './profile';
import { fastMatMulInstalled, installFastMatMul, installSharedIdentity, sharedIdentityInstalled } from './fast-matmul';
import { summarize, type Summary } from './stats';

export interface BenchOptions {
  backend: BackendName | 'auto';
  sizes: SizeName[];
  variants: VariantName[];
  batch: number;
  loraRank: number;
  warmup: number;
  repeats: number;
  /** Repeats for the large size (its steps are ~10x longer). */
  repeatsLarge: number;
  /** ours/peer alternate this many times (a shared machine's load hits both alike). */
  rounds: number;
  peer: boolean;
  /** Torch thread counts to time the peer with (each gets its row); 0 = torch's default. */
  peerThreads: number[];
  ablation: boolean;
  profile: boolean;
  /** Stop (no timings) when the parity check fails; false only to inspect a failure. */
  strictParity: boolean;
  /** Experiment: route wasm's transposed 2-D matMuls to its fast path (bench/fast-matmul.ts). */
  fastMatMul: boolean;
  /** Experiment: wasm's Identity shares the buffer instead of copying it (bench/fast-matmul.ts). */
  shareIdentity: boolean;
  log: (line: string) => void;
}

export const DEFAULT_OPTIONS: Omit<BenchOptions, 'log'> = {
  backend: 'auto',
  sizes: ['demo', 'large'],
  variants: ['dpo', 'mdpo'],
  batch: 8,
  loraRank: 64,
  warmup: 1,
  repeats: 5,
  repeatsLarge: 3,
  rounds: 2,
  peer: true,
  peerThreads: [0],
  ablation: true,
  profile: true,
  strictParity: true,
  fastMatMul: false,
  shareIdentity: false,
};

/** --quick: the tiny model, one timed step, one round (a smoke run; numbers mean little). */
export const QUICK_OPTIONS: Partial<BenchOptions> = {
  sizes: ['tiny'],
  warmup: 0,
  repeats: 1,
  repeatsLarge: 1,
  rounds: 1,
};

const PARITY_TOL = 1e-4;
const LR = 1e-3;
const WEIGHT_DECAY = 0.05;

export interface ParityResult {
  size: SizeName;
  variant: VariantName;
  ok: boolean;
  oursLoss: number;
  peerLoss: number;
  lossAbsDiff: number;
  logpMaxAbsDiff: number;
  logpMaxRelDiff: number;
  gradNormOurs: number;
  gradNormPeer: number;
  gradNormRelDiff: number;
  /** Policy log-probs after one AdamW step on each side (reported, not gated: Adam's first step is sign-like). */
  afterStepMaxAbsDiff: number;
}

export interface TimingRow {
  size: SizeName;
  params: number;
  variant: VariantName;
  impl: 'ours' | 'peer';
  backend: string;
  stepMs: Summary;
  cpuMs: Summary;
  pairsPerSec: number;
  /** Prompt + answer tokens scored per second (image slots not counted). */
  tokensPerSec: number;
  /** Matrix-product FLOPs the step executes (forward + backward), analytic. */
  flopsPerStep: number;
  gflops: number;
  /** Achieved GFLOP/s over the same backend's large-matMul peak. */
  peakShare: number;
  /** The same per CPU second (process CPU time): what a shared machine's load barely moves. */
  gflopsCpu: number;
  peakShareCpu: number;
  /** Ours only: the first step, whose reference log-probs are not yet cached. */
  firstStepMs?: number;
  tensorGrowthPerStep?: number;
  bytesGrowthPerStep?: number;
  numTensors?: number;
}

export interface AblationRow {
  name: string;
  switches: AblationSwitches & { bucketed: boolean };
  stepMs: Summary;
  cpuMs: Summary;
  tensorGrowthPerStep: number;
  flopsPerStep: number;
  /** Padded text slots / real text tokens of the rows the policy forward runs. */
  paddingOverhead: number;
}

export interface BenchResult {
  format: 'mdpo-studio-bench@1';
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpu: string; cores: number; node: string; platform: string; loadAvgStart: number[]; loadAvgEnd: number[] };
  backend: { name: string; device: string; tfjs: string; fastMatMul: boolean; shareIdentity: boolean; skipped: { name: string; reason: string }[] };
  options: Omit<BenchOptions, 'log'>;
  peak: { ours: { n: number; gflops: number; gflopsCpu: number }; peer: number | null; peerCpu: number | null };
  peer: { available: boolean; reason: string | null; torch: string | null; threads: number | null; blas: string | null };
  parity: ParityResult[];
  rows: TimingRow[];
  ratios: { size: SizeName; mdpoOverPeer: number | null; mdpoOverDpo: number | null; mdpoOverPeerCpu: number | null; mdpoOverDpoCpu: number | null }[];
  ablation: AblationRow[];
  profile: (Omit<StepProfile, 'kernels'> & { size: SizeName; variant: VariantName; kernels: StepProfile['kernels'] }) | null;
}

function batchShape(source: BenchSource, indices: number[]): BatchShape {
  const ex = indices.map((i) => source.example(i));
  return {
    pairs: ex.length,
    prompt: ex.map((e) => e.promptIds.length),
    chosen: ex.map((e) => e.chosenIds.length),
    rejected: ex.map((e) => e.rejectedIds.length),
  };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function maxAbs(a: (number[] | null)[], b: (ArrayLike<number> | null)[]): { abs: number; rel: number } {
  let abs = 0;
  let rel = 0;
  a.forEach((row, k) => {
    const other = b[k];
    if (!row || !other) return;
    row.forEach((x, i) => {
      const d = Math.abs(x - other[i]);
      abs = Math.max(abs, d);
      rel = Math.max(rel, d / Math.max(1, Math.abs(x)));
    });
  });
  return { abs, rel };
}

/** Our log-probs [chosen, rejected, imageless|null] for the first `batch` pairs, adapters on or off. */
function ourLogps(model: ReturnType<typeof buildModel>, source: BenchSource, batch: number, lora: boolean, withImageless: boolean): (number[] | null)[] {
  let out: (number[] | null)[] = [];
  tf.tidy(() => {
    const ex = range(batch).map((i) => source.example(i));
    const { mean, std } = model.config.image;
    const [H, W] = source.imageShape;
    const norm = (img: Float32Array) => img.map((v, i) => (v - mean[i % 3]) / std[i % 3]);
    const images = ex.map((e) => norm(e.image));
    const negs = range(batch).map((i) => norm(source.negative(i)));
    const px = (imgs: Float32Array[]) => tf.tensor4d(Float32Array.from(imgs.flatMap((a) => Array.from(a))), [imgs.length, H, W, 3]);
    const prompts = ex.map((e) => e.promptIds);
    const score = (imgs: Float32Array[], answers: number[][]) =>
      Array.from(model.sequenceLogProbs({ pixels: px(imgs), promptIds: prompts, answerIds: answers }, { lora }).dataSync());
    out = [
      score(images, ex.map((e) => e.chosenIds)),
      score(images, ex.map((e) => e.rejectedIds)),
      withImageless ? score(negs, ex.map((e) => e.chosenIds)) : null,
    ];
  });
  return out;
}

export async function runBenchmark(opts: BenchOptions, command: string): Promise<BenchResult> {
  const log = opts.log;
  const startedAt = new Date().toISOString();
  const loadAvgStart = os.loadavg();
  const info = await initBackend(opts.backend);
  log(`backend: ${describeBackend(info)}`);
  if (opts.fastMatMul) {
    if (info.tfjsName !== 'wasm' || !installFastMatMul()) throw new Error('--fast-matmul needs the wasm backend');
    log('experiment: wasm BatchMatMul wrapped (transposed 2-D products materialised, bench/fast-matmul.ts)');
  }
  if (opts.shareIdentity) {
    if (info.tfjsName !== 'wasm' || !installSharedIdentity()) throw new Error('--share-identity needs the wasm backend');
    log('experiment: wasm Identity shares buffers (bench/fast-matmul.ts)');
  }
  const peakN = info.name === 'cpu' ? 384 : 1024;
  const peakOurs = measureMatMulPeak(peakN);
  log(`matMul peak (${peakN}^3): ${peakOurs.gflops.toFixed(2)} GFLOP/s wall, ${peakOurs.gflopsCpu.toFixed(2)} per CPU second`);

  const peerReason: string | null = opts.peer ? peerUnavailable() : 'disabled (--no-peer)';
  const peerAvailable = peerReason === null;
  if (!peerAvailable) log(`peer: not run — ${peerReason}`);
  const peerMeta = { torch: null as string | null, threads: null as number | null, blas: null as string | null };
  let peerPeak: number | null = null;
  let peerPeakCpu: number | null = null;

  const parity: ParityResult[] = [];
  const rows: TimingRow[] = [];
  const work = await mkdtemp(join(tmpdir(), 'mdpo-bench-'));
  try {
    for (const size of opts.sizes) {
      const config = SIZES[size];
      const params = parameterCount(config);
      const repeats = size === 'large' ? opts.repeatsLarge : opts.repeats;
      for (const variant of opts.variants) {
        const objective = objectiveConfig(variant);
        const withImageless = objective.terms.conditional !== 0;
        const source = new BenchSource(config, opts.batch);
        const shape = batchShape(source, range(opts.batch));
        const exDir = join(work, `${size}-${variant}`);

        // The peer implements the image-conditioned variants with the anchor on y_w (the paper's).
        const peerFits = peerAvailable && objective.useImage && objective.anchor === 'chosen';
        if (peerAvailable && !peerFits) log(`peer: skipped for ${variant} (it implements image-conditioned variants with the anchor on y_w only)`);
        // 1. Parity: same weights (LoRA B random so policy != reference), same inputs.
        if (peerFits) {
          const model = buildModel({ config, loraRank: opts.loraRank, seed: 1, loraBStd: 0.02 });
          try {
            await writeExchange(exDir, model, source, opts.batch, {
              objective, learningRate: LR, weightDecay: WEIGHT_DECAY, warmup: opts.warmup, repeats, threads: opts.peerThreads[opts.peerThreads.length - 1],
            });
            const pol = ourLogps(model, source, opts.batch, true, withImageless);
            const ref = ourLogps(model, source, opts.batch, false, withImageless);
            const loop = await runAppLoop(model, source, { variant, batchSize: opts.batch, warmup: 0, repeats: 1, learningRate: LR });
            const after = ourLogps(model, source, opts.batch, true, withImageless);
            const p = await runPeer(exDir, 'parity');
            const lp = maxAbs([...pol, ...ref], [...p.policy, ...p.reference]);
            const r: ParityResult = {
              size, variant,
              oursLoss: loop.firstMetrics.loss, peerLoss: p.loss, lossAbsDiff: Math.abs(loop.firstMetrics.loss - p.loss),
              logpMaxAbsDiff: lp.abs, logpMaxRelDiff: lp.rel,
              gradNormOurs: loop.firstMetrics.grad_norm, gradNormPeer: p.gradNorm,
              gradNormRelDiff: Math.abs(loop.firstMetrics.grad_norm - p.gradNorm) / Math.max(1e-12, Math.abs(p.gradNorm)),
              afterStepMaxAbsDiff: maxAbs(after, p.policyAfterStep).abs,
              ok: false,
            };
            r.ok = r.lossAbsDiff <= PARITY_TOL && r.logpMaxRelDiff <= PARITY_TOL && r.gradNormRelDiff <= PARITY_TOL;
            parity.push(r);
            log(`parity ${size}/${variant}: ${r.ok ? 'OK' : 'FAILED'} loss ${r.oursLoss.toFixed(6)} vs ${r.peerLoss.toFixed(6)} (|d| ${r.lossAbsDiff.toExponential(1)}), ` +
              `logp max |d| ${r.logpMaxAbsDiff.toExponential(1)} (rel ${r.logpMaxRelDiff.toExponential(1)}), grad norm rel ${r.gradNormRelDiff.toExponential(1)}, after one step max |d| ${r.afterStepMaxAbsDiff.toExponential(1)}`);
            if (!r.ok && opts.strictParity) {
              throw new Error(`Parity check failed for ${size}/${variant}: ours and the PyTorch peer do not compute the same loss to ${PARITY_TOL}; no timings reported.`);
            }
          } finally {
            model.dispose();
          }
        }

        // 2. Timings: rounds of (ours, peer), same machine, same batch.
        const tokensPerStep = tokenStats(range(opts.batch).map((i) => source.example(i)), numImageTokens(config), withImageless ? 3 : 2).textTokens;
        const oursFlops = stepFlops(config, opts.loraRank, appPlan(config, shape, withImageless, false), ourLoraMode()).total;
        const peerFlops = stepFlops(config, opts.loraRank, trlPlan(config, shape, withImageless)).total;
        const ours: { ms: number[]; cpu: number[]; first: number[]; tg: number[]; bg: number[]; nt: number } = { ms: [], cpu: [], first: [], tg: [], bg: [], nt: 0 };
        const peer = new Map<number, { ms: number[]; cpu: number[]; actual: number }>(opts.peerThreads.map((t) => [t, { ms: [], cpu: [], actual: t }]));
        for (let round = 0; round < opts.rounds; round++) {
          const model = buildModel({ config, loraRank: opts.loraRank, seed: 1, loraBStd: 0 });
          try {
            const r = await runAppLoop(model, source, { variant, batchSize: opts.batch, warmup: opts.warmup, repeats, learningRate: LR });
            ours.ms.push(...r.stepMs.slice(opts.warmup));
            ours.cpu.push(...r.cpuMs.slice(opts.warmup));
            ours.first.push(r.stepMs[0]);
            ours.tg.push(r.tensorGrowthPerStep);
            ours.bg.push(r.bytesGrowthPerStep);
            ours.nt = r.numTensors[r.numTensors.length - 1];
            log(`ours ${size}/${variant} round ${round + 1}: ${r.stepMs.map((x) => x.toFixed(0)).join(' ')} ms (cpu ${r.cpuMs.map((x) => x.toFixed(0)).join(' ')})`);
          } finally {
            model.dispose();
          }
          for (const [threads, acc] of peerFits ? peer : []) {
            const p = await runPeer(exDir, 'time', threads);
            acc.ms.push(...p.stepMs);
            acc.cpu.push(...p.cpuMs);
            acc.actual = p.threads;
            Object.assign(peerMeta, { torch: p.torch, threads: p.threads, blas: p.blas });
            peerPeak = Math.max(peerPeak ?? 0, p.matMulPeakGflops);
            peerPeakCpu = Math.max(peerPeakCpu ?? 0, p.matMulPeakGflopsCpu);
            log(`peer (${p.threads} threads) ${size}/${variant} round ${round + 1}: ${p.stepMs.map((x) => x.toFixed(0)).join(' ')} ms (cpu ${p.cpuMs.map((x) => x.toFixed(0)).join(' ')})`);
          }
        }
        const sOurs = summarize(ours.ms);
        rows.push({
          size, params, variant, impl: 'ours', backend: info.name,
          stepMs: sOurs, cpuMs: summarize(ours.cpu),
          pairsPerSec: opts.batch / (sOurs.median / 1000), tokensPerSec: tokensPerStep / (sOurs.median / 1000),
          flopsPerStep: oursFlops, gflops: oursFlops / (sOurs.median * 1e6), peakShare: oursFlops / (sOurs.median * 1e6) / peakOurs.gflops,
          gflopsCpu: oursFlops / (summarize(ours.cpu).median * 1e6), peakShareCpu: oursFlops / (summarize(ours.cpu).median * 1e6) / peakOurs.gflopsCpu,
          firstStepMs: summarize(ours.first).median,
          tensorGrowthPerStep: Math.max(...ours.tg), bytesGrowthPerStep: Math.max(...ours.bg), numTensors: ours.nt,
        });
        for (const [threads, acc] of peer) {
          if (acc.ms.length === 0) continue;
          const sPeer = summarize(acc.ms);
          rows.push({
            size, params, variant, impl: 'peer',
            backend: `torch ${peerMeta.torch}, ${acc.actual} thread${acc.actual > 1 ? 's' : ''}${threads === 0 ? ' (its default)' : ''}`,
            stepMs: sPeer, cpuMs: summarize(acc.cpu),
            pairsPerSec: opts.batch / (sPeer.median / 1000), tokensPerSec: tokensPerStep / (sPeer.median / 1000),
            flopsPerStep: peerFlops, gflops: peerFlops / (sPeer.median * 1e6), peakShare: peerFlops / (sPeer.median * 1e6) / (peerPeak ?? NaN),
            gflopsCpu: peerFlops / (summarize(acc.cpu).median * 1e6), peakShareCpu: peerFlops / (summarize(acc.cpu).median * 1e6) / (peerPeakCpu ?? NaN),
          });
        }
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  /** Ours, or the fastest peer row (by median wall time). */
  const find = (size: SizeName, variant: VariantName, impl: 'ours' | 'peer') =>
    rows.filter((r) => r.size === size && r.variant === variant && r.impl === impl).sort((a, b) => a.stepMs.median - b.stepMs.median)[0];
  const ratios = opts.sizes.map((size) => {
    const m = find(size, 'mdpo', 'ours');
    const d = find(size, 'dpo', 'ours');
    const p = find(size, 'mdpo', 'peer');
    return {
      size,
      mdpoOverPeer: m && p ? m.stepMs.median / p.stepMs.median : null,
      mdpoOverDpo: m && d ? m.stepMs.median / d.stepMs.median : null,
      mdpoOverPeerCpu: m && p ? m.cpuMs.median / Math.min(...rows.filter((r) => r.size === size && r.variant === 'mdpo' && r.impl === 'peer').map((r) => r.cpuMs.median)) : null,
      mdpoOverDpoCpu: m && d ? m.cpuMs.median / d.cpuMs.median : null,
    };
  });

  const ablation = opts.ablation ? await runAblation(opts) : [];
  let profile: BenchResult['profile'] = null;
  if (opts.profile) {
    const size = opts.sizes[0];
    const model = buildModel({ config: SIZES[size], loraRank: opts.loraRank, seed: 1, loraBStd: 0 });
    const source = new BenchSource(SIZES[size], opts.batch);
    const stepper = ablationStepper(model, source, 'mdpo', [range(opts.batch)], { refEveryStep: false, forward: 'rows', cacheImageEmbeds: false });
    await stepper.step();
    const p = await profileStep(() => stepper.step());
    stepper.dispose();
    model.dispose();
    profile = { size, variant: 'mdpo', ...p, kernels: p.kernels.slice(0, 20) };
    log(`profile ${size}/mdpo (the app's step): ${p.wallMs.toFixed(0)} ms wall, ${p.kernelCalls} kernels, matMul ${(100 * p.matMulShareOfKernels).toFixed(0)}% of kernel time, outside kernels ${(100 * p.outsideShare).toFixed(0)}%`);
  }

  return {
    format: 'mdpo-studio-bench@1',
    startedAt,
    finishedAt: new Date().toISOString(),
    command,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, platform: `${process.platform} ${process.arch}`, loadAvgStart, loadAvgEnd: os.loadavg() },
    backend: { name: info.name, device: info.device, tfjs: tf.version_core, fastMatMul: fastMatMulInstalled(), shareIdentity: sharedIdentityInstalled(), skipped: info.skipped },
    options: (({ log: _log, ...rest }) => rest)(opts),
    peak: { ours: { n: peakOurs.n, gflops: peakOurs.gflops, gflopsCpu: peakOurs.gflopsCpu }, peer: peerPeak, peerCpu: peerPeakCpu },
    peer: { available: peerAvailable, reason: peerReason, ...peerMeta },
    parity,
    rows,
    ratios,
    ablation,
    profile,
  };
}

/**
 * Issue 9's optimizations, each switched on in turn (cumulative), on the first size, mdpo.
 * Over one epoch of `4 x batch` pairs so caches and bucketing behave as over a run.
 */
async function runAblation(opts: BenchOptions): Promise<AblationRow[]> {
  const size = opts.sizes[0];
  const config = SIZES[size];
  const nBatches = 4;
  const out: AblationRow[] = [];
  const steps: { name: string; sw: AblationSwitches; bucketed: boolean }[] = [
    { name: 'TRL way (ref every step, [y_w;y_l] + [y_w|m\'])', sw: { refEveryStep: true, forward: 'trl', cacheImageEmbeds: false }, bucketed: false },
    { name: '+ reference log-probs cached', sw: { refEveryStep: false, forward: 'trl', cacheImageEmbeds: false }, bucketed: false },
    { name: 'one forward over all 3 row sets (the app today)', sw: { refEveryStep: false, forward: 'rows', cacheImageEmbeds: false }, bucketed: false },
    { name: 'shared image+prompt prefix (pairLogProbs)', sw: { refEveryStep: false, forward: 'prefix', cacheImageEmbeds: false }, bucketed: false },
    { name: '+ image embeddings cached (frozen tower)', sw: { refEveryStep: false, forward: 'prefix', cacheImageEmbeds: true }, bucketed: false },
    { name: '+ length bucketing', sw: { refEveryStep: false, forward: 'prefix', cacheImageEmbeds: true }, bucketed: true },
  ];
  for (const s of steps) {
    const source = new BenchSource(config, opts.batch * nBatches);
    if (s.bucketed) source.bucketByLength();
    const batches = range(nBatches).map((b) => range(opts.batch).map((i) => b * opts.batch + i));
    const model = buildModel({ config, loraRank: opts.loraRank, seed: 1, loraBStd: 0 });
    const stepper = ablationStepper(model, source, 'mdpo', batches, s.sw);
    try {
      // One epoch warms every per-batch cache, then whole epochs are timed.
      const timed = opts.repeats <= 1 ? 1 : nBatches * Math.max(1, Math.ceil(opts.repeats / nBatches));
      const t = await timeSteps(() => stepper.step(), opts.warmup > 0 ? nBatches : 0, timed);
      const flops = batches.reduce((acc, b) => acc + stepFlops(config, opts.loraRank, ourPlan(config, batchShape(source, b), s.sw.forward, s.sw.refEveryStep, s.sw.cacheImageEmbeds), ourLoraMode()).total, 0) / nBatches;
      const pad = batches.map((b) => {
        const st = tokenStats(b.map((i) => source.example(i)), 0, 3);
        return st.paddedTextSlots / st.textTokens;
      });
      out.push({
        name: s.name, switches: { ...s.sw, bucketed: s.bucketed }, stepMs: t.summary, cpuMs: t.cpuSummary,
        tensorGrowthPerStep: t.tensorGrowthPerStep, flopsPerStep: flops, paddingOverhead: pad.reduce((a, b) => a + b, 0) / pad.length,
      });
      opts.log(`ablation ${size}/mdpo ${s.name}: ${t.summary.median.toFixed(0)} ms wall, ${t.cpuSummary.median.toFixed(0)} ms cpu`);
    } finally {
      stepper.dispose();
      model.dispose();
    }
  }
  return out;
}
