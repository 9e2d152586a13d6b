/**
 * runDemo (base -> DPO vs mDPO, one seed, in-process) and runExperiment (every arm, several
 * seeds, resumable per arm and seed). Both write results.json, results.md and report.html.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DEMO_ARMS, EXPERIMENT_ARMS, type ArmSpec } from './arms';
import { assembleResults, writeResults } from './output';
import type { StudyResults } from './results';
import { WORLD_LEARNING_RATE, prepareStudy, runArm, type ArmSeedResult, type StudyContext, type StudyHooks, type StudySettings } from './study';

export type DemoPreset = 'quick' | 'full';

/**
 * The demo's default settings: sized to finish in at most 10 minutes on 2 CPU cores (wasm);
 * see docs/results/demo for the measured run. Training follows docs/objective.md where it applies
 * (beta 0.1, cosine with 10% warm-up, effective batch 32, LoRA r64/alpha128 on every linear
 * layer of the language model, AdamW wd 0.05, beta2 0.98, 3 epochs) except the learning rate.
 */
export const DEMO_SETTINGS: Omit<StudySettings, 'baseDir' | 'outDir'> = {
  worldSeed: 1,
  pairScenes: 400,
  samplesPerQuestion: 4,
  temperature: 1,
  popePairs: 0,
  evalScenes: 150,
  relianceScenes: 100,
  statsScenes: 8000,
  seeds: [1],
  learningRate: WORLD_LEARNING_RATE,
  steps: null,
  epochs: 3,
  batchSize: 16,
  gradAccum: 2,
  beta: 0.1,
  loraRank: 64,
  loraAlpha: 128,
  samples: 12,
  backend: 'auto',
};

/** A few steps on a few scenes: tests and a first look (about a minute). */
export const QUICK_SETTINGS: Omit<StudySettings, 'baseDir' | 'outDir'> = {
  ...DEMO_SETTINGS,
  pairScenes: 24,
  evalScenes: 8,
  relianceScenes: 8,
  statsScenes: 500,
  steps: 3,
  batchSize: 4,
  gradAccum: 1,
  loraRank: 8,
  loraAlpha: 16,
  samples: 4,
};

/** The full study's defaults (scripts/experiment.ts): every arm, three seeds. */
export const EXPERIMENT_SETTINGS: Omit<StudySettings, 'baseDir' | 'outDir'> = {
  ...DEMO_SETTINGS,
  seeds: [1, 2, 3],
};

export interface DemoOptions extends Partial<StudySettings> {
  baseDir: string;
  outDir: string;
  preset?: DemoPreset;
  arms?: readonly ArmSpec[];
  /** Recorded in results.json (how to reproduce the run). */
  command?: string | null;
}

export interface DemoResult {
  results: StudyResults;
  files: { json: string; md: string; html: string };
  outDir: string;
}

function settingsFor(o: DemoOptions, defaults: Omit<StudySettings, 'baseDir' | 'outDir'>): StudySettings {
  const preset = o.preset === 'quick' ? QUICK_SETTINGS : defaults;
  const picked = Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined && k in DEMO_SETTINGS));
  return { ...preset, ...picked, baseDir: o.baseDir, outDir: o.outDir } as StudySettings;
}

export function demoNotes(ctx: StudyContext): string[] {
  const notes: string[] = [];
  if (ctx.imported.records.length < 64) notes.push(`Only ${ctx.imported.records.length} pairs: a reduced run, not a measurement.`);
  return notes;
}

/** The demo: from the base, build pairs, train dpo and mdpo with the same settings and seed, evaluate base/dpo/mdpo. */
export async function runDemo(options: DemoOptions, hooks: StudyHooks = {}): Promise<DemoResult> {
  const started = Date.now();
  const settings = settingsFor(options, DEMO_SETTINGS);
  const arms = options.arms ?? DEMO_ARMS;
  const ctx = await prepareStudy(settings, hooks);
  const results: ArmSeedResult[] = [];
  const baseArm = arms.find((a) => a.variant === 'base');
  let baseRun: ArmSeedResult | undefined;
  if (baseArm) results.push((baseRun = await runArm(ctx, baseArm, settings.seeds[0], hooks)));
  for (const seed of settings.seeds) {
    for (const arm of arms) {
      if (arm.variant === 'base') continue;
      results.push(await runArm(ctx, arm, seed, hooks, baseRun && { metrics: baseRun.metrics }));
    }
  }
  const r = assembleResults(ctx, { kind: 'demo', arms, results, wallSeconds: (Date.now() - started) / 1000, command: options.command ?? null, notes: demoNotes(ctx) });
  const files = await writeResults(settings.outDir, r);
  return { results: r, files, outDir: settings.outDir };
}

export interface ExperimentOptions extends DemoOptions {
  /** Run only these jobs ("arm@seed"); the rest are expected from other workers. */
  only?: readonly string[];
  /** Assemble and write the results (false in workers). */
  assemble?: boolean;
  /** Wall time to record (default: this call's). */
  wallSeconds?: number;
}

export const jobKey = (arm: string, seed: number): string => `${arm}@${seed}`;

/** Every (arm, seed) job of a study; the base is scored once (greedy decoding has no seed). */
export function experimentJobs(arms: readonly ArmSpec[], seeds: readonly number[]): string[] {
  const jobs: string[] = [];
  if (arms.some((a) => a.variant === 'base')) jobs.push(jobKey('base', seeds[0]));
  for (const seed of seeds) for (const a of arms) if (a.variant !== 'base') jobs.push(jobKey(a.name, seed));
  return jobs;
}

/**
 * The full study. Each finished (arm, seed) is saved in <outDir>/parts/, so a rerun with the
 * same settings continues where it stopped, and several processes can share the jobs.
 */
export async function runExperiment(options: ExperimentOptions, hooks: StudyHooks = {}): Promise<DemoResult | null> {
  const started = Date.now();
  const settings = settingsFor(options, EXPERIMENT_SETTINGS);
  const arms = options.arms ?? EXPERIMENT_ARMS;
  const ctx = await prepareStudy(settings, hooks);
  const partsDir = path.join(settings.outDir, 'parts');
  await mkdir(partsDir, { recursive: true });
  const stamp = JSON.stringify({ ...settings, seeds: undefined, outDir: undefined });
  const partFile = (job: string) => path.join(partsDir, `${job}.json`);
  const readPart = async (job: string): Promise<ArmSeedResult | null> => {
    if (!existsSync(partFile(job))) return null;
    const p = JSON.parse(await readFile(partFile(job), 'utf8')) as { stamp: string; result: ArmSeedResult };
    return p.stamp === stamp ? p.result : null;
  };
  const jobs = experimentJobs(arms, settings.seeds);
  const mine = options.only ? jobs.filter((j) => options.only!.includes(j)) : jobs;
  let baseMetrics = (await readPart(jobs[0]))?.metrics;
  for (const job of mine) {
    if (await readPart(job)) {
      hooks.onLog?.(`${job}: done before, reusing`);
      continue;
    }
    const [name, seedText] = job.split('@');
    const arm = arms.find((a) => a.name === name)!;
    const result = await runArm(ctx, arm, Number(seedText), hooks, baseMetrics && { metrics: baseMetrics });
    if (arm.variant === 'base') baseMetrics = result.metrics;
    await writeFile(partFile(job), JSON.stringify({ stamp, result }) + '\n');
  }
  if (options.assemble === false) return null;
  const results: ArmSeedResult[] = [];
  const missing: string[] = [];
  for (const job of jobs) {
    const r = await readPart(job);
    if (r) results.push(r);
    else missing.push(job);
  }
  if (missing.length > 0) throw new Error(`Missing results for ${missing.join(', ')} (a worker failed?); rerun to finish them.`);
  const wallSeconds = options.wallSeconds ?? (Date.now() - started) / 1000;
  const r = assembleResults(ctx, { kind: 'experiment', arms, results, wallSeconds, command: options.command ?? null, notes: demoNotes(ctx) });
  const files = await writeResults(settings.outDir, r);
  return { results: r, files, outDir: settings.outDir };
}
