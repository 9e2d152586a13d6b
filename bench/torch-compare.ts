/**
 * `npm run bench` part 2 (issue 16): one tiny Hugging Face checkpoint, the same pairs and
 * settings, six implementations, each in its own process (so each peak RSS is its own):
 *
 *   TRL 1.16 DPOTrainer (DPO, PEFT LoRA, live reference)       bench/trl_compare.py trl
 *   the authors' way of mDPO on the HF model (bench/peer.py's)   bench/trl_compare.py authors
 *   our torch engine, DPO and mDPO (mdpo_torch.engine.run_job)  bench/trl_compare.py torch
 *   our tfjs engine, DPO and mDPO (src/core/train)               bench/tfjs-hf-run.ts
 *
 * Parity gate: no timing is shown for an implementation unless its step-1 loss agrees with our
 * torch engine's (same variant) to 1e-4, and, for TRL and the authors' way, every step-1 mean
 * log-prob to 1e-4 relative (the log-probs are the base model's at step 1, so they check that
 * everyone scored the same tokens and pixels). Images: the app renders m and m' once
 * (src/main/python/images.ts, as for a real torch run); everyone reads those files.
 */
import { spawnSync } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { renderTorchImages } from '../src/main/python/images';
import { trainConfigSchema, type TrainConfig } from '../src/shared/schemas';
import { summarize, type Summary } from './stats';

const HERE = fileURLToPath(new URL('.', import.meta.url));
export const REPO = resolve(HERE, '..');
export const HF_FIXTURE = join(REPO, 'test', 'fixtures', 'hf-golden', 'llava-llama', 'model');
export const IMPLS = ['trl', 'authors', 'torch', 'tfjs'] as const;
export type Impl = (typeof IMPLS)[number];
export type Variant = 'dpo' | 'mdpo';
/** Which variants each implementation runs (TRL has no mDPO loss; the authors' code is the mDPO reference). */
export const PLAN: [Impl, Variant][] = [['trl', 'dpo'], ['authors', 'mdpo'], ['torch', 'dpo'], ['torch', 'mdpo'], ['tfjs', 'dpo'], ['tfjs', 'mdpo']];
export const LOSS_TOL = 1e-4;
export const LOGP_REL_TOL = 1e-4;

export interface HfCompareOptions {
  model: string;
  pairs: number;
  /** Optimizer steps per implementation; step 1 (the torch/tfjs engines fill their reference cache there) is reported apart. */
  steps: number;
  loraRank: number;
  python: string;
  log: (line: string) => void;
}

export interface ImplResult {
  impl: Impl;
  variant: Variant;
  stepMs: number[];
  cpuMs: number[];
  losses: number[];
  logps: { chosen: number | null; rejected: number | null; imageless?: number | null }[];
  peakRssBytes: number;
  torch?: string;
  trl?: string;
  threads?: number;
  backend?: string;
}

export interface HfRow {
  impl: Impl;
  variant: Variant;
  parity: { ok: boolean; lossDiff: number; logpRelDiff: number | null; step2LossDiff: number | null; why: string };
  firstStepMs: number;
  /** Step-1 mean log-probs (chosen, rejected, imageless) and losses of steps 1-2. */
  step1: { logps: ImplResult['logps'][number] | null; losses: number[] };
  stepMs: Summary | null;
  cpuMs: Summary | null;
  pairsPerSec: number | null;
  peakRssMiB: number;
  note: string;
}

export interface HfCompareResult {
  command: string;
  startedAt: string;
  machine: { cpu: string; cores: number; loadAvgStart: number[]; loadAvgEnd: number[] };
  model: string;
  settings: { pairs: number; batchSize: number; steps: number; loraRank: number; beta: number; lr: number };
  rows: HfRow[];
  ratios: { torchMdpoOverTrlDpo: number | null; torchMdpoOverTrlDpoCpu: number | null; tfjsOverTorchDpo: number | null; tfjsOverTorchMdpo: number | null; tfjsOverTorchMdpoCpu: number | null };
}

/** `n` 40x30 gradient PNGs and PreferenceRecords pointing at them. */
async function writePairs(dir: string, n: number): Promise<string> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const records = [];
  for (let i = 0; i < n; i++) {
    const [w, h] = [40, 30];
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([(x * 6 + i * 20) & 255, (y * 8 + i * 9) & 255, ((x * y) >> 2) & 255], (y * w + x) * 3);
    const file = join(dir, 'images', `${i}.png`);
    writeFileSync(file, await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
    records.push({
      index: i, id: `pair-${i}`, prompt: `What is in picture ${i}?`,
      chosen: `Stripes of colour number ${i}, fading to the right.`, rejected: `A dog ${i} sitting on a red sofa.`,
      image: { kind: 'file', path: file, relPath: `images/${i}.png` }, source: { file: 'bench.json', index: i },
    });
  }
  const recordsFile = join(dir, 'records.json');
  writeFileSync(recordsFile, JSON.stringify(records));
  return recordsFile;
}

function configFor(o: HfCompareOptions, variant: Variant, imagesDir: string): TrainConfig {
  return trainConfigSchema.parse({
    datasetId: 1, engine: 'torch', baseModel: o.model, variant, seed: 0, learningRate: 1e-3, schedule: 'constant', warmupRatio: 0,
    batchSize: o.pairs, gradAccum: 1, maxSteps: o.steps, checkpointEvery: 0, backend: 'cpu',
    lora: { rank: o.loraRank, alpha: 2 * o.loraRank },
    torch: { python: o.python, negativesDir: imagesDir, device: 'cpu', precision: 'fp32', gradientCheckpointing: false, maxLength: 512 },
  });
}

function runOne(o: HfCompareOptions, dir: string, impl: Impl, variant: Variant): ImplResult {
  const env = { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', PYTHONPATH: join(REPO, 'python') };
  const r = impl === 'tfjs'
    ? spawnSync(process.execPath, ['--import', 'tsx', join(HERE, 'tfjs-hf-run.ts'), dir, variant], { encoding: 'utf8', env, cwd: REPO, maxBuffer: 64 << 20 })
    : spawnSync(o.python, [join(HERE, 'trl_compare.py'), dir, impl, variant], { encoding: 'utf8', env, cwd: REPO, maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`${impl}/${variant}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${impl}/${variant} exited with ${r.status}:\n${r.stderr.split('\n').slice(-25).join('\n')}`);
  return JSON.parse(readFileSync(join(dir, `${impl}-${variant}.json`), 'utf8')) as ImplResult;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

/** The gate for `r` against our torch engine's run of the same variant. */
export function parityOf(r: ImplResult, ours: ImplResult | undefined, checkLogps: boolean): HfRow['parity'] {
  if (r.impl === 'torch') return { ok: true, lossDiff: 0, logpRelDiff: 0, step2LossDiff: 0, why: 'reference' };
  if (!ours || ours.losses.length === 0 || r.losses.length === 0) return { ok: false, lossDiff: NaN, logpRelDiff: null, step2LossDiff: null, why: 'no step-1 loss to compare' };
  const lossDiff = Math.abs(r.losses[0]! - ours.losses[0]!);
  const step2LossDiff = r.losses.length > 1 && ours.losses.length > 1 ? Math.abs(r.losses[1]! - ours.losses[1]!) : null;
  let logpRelDiff = 0;
  for (const k of ['chosen', 'rejected', 'imageless'] as const) {
    const a = r.logps[0]?.[k];
    const b = ours.logps[0]?.[k];
    if (a != null && b != null) logpRelDiff = Math.max(logpRelDiff, rel(a, b));
  }
  const lossOk = lossDiff <= LOSS_TOL;
  const logpOk = !checkLogps || logpRelDiff <= LOGP_REL_TOL;
  const why = !lossOk ? `step-1 loss differs by ${lossDiff.toExponential(2)} (> ${LOSS_TOL})` : !logpOk ? `step-1 log-probs differ by ${logpRelDiff.toExponential(2)} relative (> ${LOGP_REL_TOL})` : 'ok';
  return { ok: lossOk && logpOk, lossDiff, logpRelDiff, step2LossDiff, why };
}

export async function runHfComparison(o: HfCompareOptions, command: string): Promise<HfCompareResult> {
  const startedAt = new Date().toISOString();
  const loadAvgStart = loadavg();
  const dir = mkdtempSync(join(tmpdir(), 'mdpo-bench-hf-'));
  try {
    const recordsFile = await writePairs(dir, o.pairs);
    const imagesDir = join(dir, 'torch-images');
    const jobs: Record<string, unknown> = {};
    for (const variant of ['dpo', 'mdpo'] as const) {
      const config = configFor(o, variant, imagesDir);
      // The app's own rendering of m and m' (what launch.ts does before a torch run); dpo needs no m', mdpo does.
      if (variant === 'mdpo') await renderTorchImages({ config, recordsFile, outDir: imagesDir, home: join(dir, 'home'), log: o.log });
      jobs[variant] = { runId: 1, config, runDir: join(dir, `run-${variant}`), home: join(dir, 'home'), appRoot: REPO, resumeFrom: null, dataset: { root: dir, format: 'trl-json', recordsFile } };
    }
    writeFileSync(join(dir, 'job.json'), JSON.stringify({ steps: o.steps, jobs }));
    const results: ImplResult[] = [];
    const only = process.env.BENCH_HF_ONLY?.split(',');
    for (const [impl, variant] of PLAN.filter(([i, v]) => !only || only.includes(`${i}-${v}`))) {
      o.log(`hf compare: ${impl} ${variant} ...`);
      results.push(runOne(o, dir, impl, variant));
    }
    const ours = (v: Variant) => results.find((r) => r.impl === 'torch' && r.variant === v);
    const rows: HfRow[] = results.map((r) => {
      const parity = parityOf(r, ours(r.variant), r.impl === 'trl' || r.impl === 'authors');
      const timed = { wall: r.stepMs.slice(1), cpu: r.cpuMs.slice(1) };
      const stepMs = parity.ok && timed.wall.length ? summarize(timed.wall) : null;
      return {
        impl: r.impl, variant: r.variant, parity, firstStepMs: r.stepMs[0] ?? NaN, stepMs,
        step1: { logps: r.logps[0] ?? null, losses: r.losses.slice(0, 2) },
        cpuMs: parity.ok && timed.cpu.length ? summarize(timed.cpu) : null,
        pairsPerSec: stepMs ? o.pairs / (stepMs.median / 1000) : null,
        peakRssMiB: r.peakRssBytes / 2 ** 20,
        note: r.impl === 'tfjs' ? (r.backend ?? '') : `torch ${r.torch ?? '?'}${r.trl ? `, trl ${r.trl}` : ''}, ${r.threads ?? '?'} thread(s)`,
      };
    });
    const med = (impl: Impl, v: Variant, cpu = false) => {
      const row = rows.find((x) => x.impl === impl && x.variant === v);
      return (cpu ? row?.cpuMs : row?.stepMs)?.median ?? null;
    };
    const ratio = (a: number | null, b: number | null) => (a != null && b != null ? a / b : null);
    return {
      command, startedAt,
      machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAvgStart, loadAvgEnd: loadavg() },
      model: o.model,
      settings: { pairs: o.pairs, batchSize: o.pairs, steps: o.steps, loraRank: o.loraRank, beta: 0.1, lr: 1e-3 },
      rows,
      ratios: {
        torchMdpoOverTrlDpo: ratio(med('torch', 'mdpo'), med('trl', 'dpo')),
        torchMdpoOverTrlDpoCpu: ratio(med('torch', 'mdpo', true), med('trl', 'dpo', true)),
        tfjsOverTorchDpo: ratio(med('tfjs', 'dpo'), med('torch', 'dpo')),
        tfjsOverTorchMdpo: ratio(med('tfjs', 'mdpo'), med('torch', 'mdpo')),
        tfjsOverTorchMdpoCpu: ratio(med('tfjs', 'mdpo', true), med('torch', 'mdpo', true)),
      },
    };
  } finally {
    if (process.env.BENCH_KEEP) o.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

const f = (x: number | null | undefined, d = 1) => (x == null || !Number.isFinite(x) ? '-' : x.toFixed(d));
const fs = (s: Summary | null) => (s ? `${f(s.median, 0)} [${f(s.min, 0)}-${f(s.max, 0)}]` : '- (parity failed)');
const NAMES: Record<Impl, string> = { trl: 'TRL DPOTrainer + PEFT (live ref)', authors: "authors' way (HF, live ref)", torch: 'ours, torch engine', tfjs: 'ours, tfjs engine' };

export function formatHfTable(r: HfCompareResult): string {
  const s = r.settings;
  const lines = [
    `HF comparison: ${r.model.replace(REPO + '/', '')}, ${s.pairs} pairs/step (one micro-batch), LoRA r ${s.loraRank}, ${s.steps} steps (step 1 apart), fp32 CPU`,
    `machine: ${r.machine.cpu}, ${r.machine.cores} cores; load avg ${r.machine.loadAvgStart.map((x) => x.toFixed(1)).join(' ')} -> ${r.machine.loadAvgEnd.map((x) => x.toFixed(1)).join(' ')}`,
    '',
    '| impl | variant | parity (step-1 loss \\|d\\|, log-prob rel) | step ms median [min-max] | cpu ms median [min-max] | pairs/s | first step ms | peak RSS MiB | runtime |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    const p = row.parity;
    const par = row.impl === 'torch' ? 'reference' : `${p.ok ? 'OK' : 'FAILED'} ${p.lossDiff.toExponential(1)}${p.logpRelDiff != null ? `, ${p.logpRelDiff.toExponential(1)}` : ''}`;
    lines.push(`| ${NAMES[row.impl]} | ${row.variant} | ${par} | ${fs(row.stepMs)} | ${fs(row.cpuMs)} | ${f(row.pairsPerSec)} | ${f(row.firstStepMs, 0)} | ${f(row.peakRssMiB, 0)} | ${row.note} |`);
  }
  const q = r.ratios;
  lines.push('', `ratios (median wall; cpu): torch mDPO / TRL DPO = ${f(q.torchMdpoOverTrlDpo, 2)}; ${f(q.torchMdpoOverTrlDpoCpu, 2)} (target <= 1) · tfjs / torch: dpo ${f(q.tfjsOverTorchDpo, 2)}, mdpo ${f(q.tfjsOverTorchMdpo, 2)}; ${f(q.tfjsOverTorchMdpoCpu, 2)} (target <= 1.5)`);
  for (const row of r.rows) if (!row.parity.ok) lines.push(`parity ${row.impl}/${row.variant}: ${row.parity.why}`);
  return lines.join('\n');
}
