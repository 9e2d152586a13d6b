/** Shared set-up for the torch-engine tests: textured images (crops differ) and tiny HF checkpoints built by transformers. */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { expect } from 'vitest';
import { decodeSafetensors } from '../src/core/model/safetensors';
import { openBackend, type Backend } from '../src/main/backend-context';
import type { MetricSeries } from '../src/shared/api';
import type { MethodInput } from '../src/shared/schemas';
import { callApi, cliIn } from './api-fixtures';
import { PYTHON, REPO_ROOT } from './python-env';

/** A silkie-jsonl dataset of `n` 40x30 PNGs, each a different gradient, so a crop (m') differs from the whole (m). */
export async function writeGradientDataset(dir: string, n: number): Promise<string> {
  const root = join(dir, 'gradients');
  mkdirSync(join(root, 'images'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const [w, h] = [40, 30];
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([(x * 6 + i * 20) & 255, (y * 8) & 255, ((x * y) >> 2) & 255], (y * w + x) * 3);
    writeFileSync(join(root, 'images', `${i}.png`), await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
    lines.push(JSON.stringify({ img_path: `images/${i}.png`, prompt: `<image>\nWhat is in picture ${i}?`, chosen: `Stripes ${i}.`, rejected: `A dog ${i}.` }));
  }
  writeFileSync(join(root, 'data.jsonl'), lines.join('\n') + '\n');
  return root;
}

/** A tiny random checkpoint of `family`, written by python/tests/builders.py (transformers itself; nothing downloaded). */
export function buildTinyCheckpoint(family: string, out: string): string {
  const script = [
    'import sys',
    'from pathlib import Path',
    `sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'python', 'tests'))})`,
    'import builders',
    `getattr(builders, "build_" + sys.argv[1])(Path(sys.argv[2]))`,
  ].join('\n');
  execFileSync(PYTHON!, ['-c', script, family, out], { env: { ...process.env, HF_HUB_OFFLINE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}

export interface LaunchResult {
  code: number | null;
  signal: string | null;
  /** The last few kB of launch.sh's stderr. */
  stderr: string;
}

/**
 * An exported job's `launch.sh` in its own process group: `nproc` processes (gloo on CPU) on a
 * random rendezvous port, with `env` on top. With `killAfterCheckpoint`, the whole group is
 * SIGKILLed once that step's checkpoint event is in out/events.jsonl (a preemption).
 */
export function launchJob(jobDir: string, o: { nproc?: number; env?: Record<string, string>; killAfterCheckpoint?: number } = {}): Promise<LaunchResult> {
  const nproc = o.nproc ?? 1;
  return new Promise((resolve, reject) => {
    const env = { ...process.env, PYTHON: PYTHON!, NPROC: String(nproc), PYTHONPATH: '', MASTER_PORT: String(29600 + Math.floor(Math.random() * 4000)), ...o.env };
    const p = spawn('./launch.sh', [], { cwd: jobDir, detached: true, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-6000)));
    let timer: NodeJS.Timeout | undefined;
    if (o.killAfterCheckpoint !== undefined) {
      const events = join(jobDir, 'out', 'events.jsonl');
      timer = setInterval(() => {
        const text = existsSync(events) ? readFileSync(events, 'utf8') : '';
        if (text.split('\n').some((l) => l.includes('"type": "checkpoint"') && l.includes(`"step": ${o.killAfterCheckpoint},`))) {
          clearInterval(timer);
          process.kill(-p.pid!, 'SIGKILL');
        }
      }, 50);
    }
    p.on('error', reject);
    p.on('close', (code, signal) => {
      clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/** launchJob that must end with exit 0 or the requested SIGKILL; anything else rejects with launch.sh's stderr. */
export async function launchJobOk(jobDir: string, o: { nproc?: number; env?: Record<string, string>; killAfterCheckpoint?: number } = {}): Promise<{ code: number | null; signal: string | null }> {
  const r = await launchJob(jobDir, o);
  if (r.code !== 0 && r.signal === null) throw new Error(`launch.sh (NPROC=${o.nproc ?? 1}) exited with ${r.code}:\n${r.stderr}`);
  return { code: r.code, signal: r.signal };
}

/**
 * Asserts that run `runId` trained exactly as `reference`: every metric at steps 1..`steps` and
 * every adapter weight within 1e-5, and the adapter really trained (some lora_B is not 0).
 * Returns the largest differences seen.
 */
export async function expectSameRun(backend: Backend, runId: number, reference: number, steps = 4): Promise<{ metrics: number; adapter: number }> {
  const series = async (id: number) => new Map((await callApi(backend, 'runs:metrics', { runId: id })).series.map((s: MetricSeries) => [s.name, s]));
  const got = await series(runId);
  const want = await series(reference);
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  expect(want.get('loss')?.values).toHaveLength(steps);
  let metrics = 0;
  for (const [name, s] of want) {
    expect(got.get(name)!.steps, name).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    got.get(name)!.values.forEach((v, i) => {
      const d = Math.abs((v as number) - (s.values[i] as number));
      metrics = Math.max(metrics, d);
      expect(d, `${name} at step ${i + 1}`).toBeLessThan(1e-5);
    });
  }
  const adapter = (id: number) => decodeSafetensors(readFileSync(join(backend.store.getRun(id)!.runDir, 'adapter', 'adapter_model.safetensors'))).tensors;
  const a = adapter(runId);
  const b = adapter(reference);
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let maxDiff = 0;
  for (const [name, ta] of a) ta.data.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - b.get(name)!.data[i]!))));
  expect(maxDiff).toBeLessThan(1e-5);
  expect([...a].some(([n, tb]) => n.includes('lora_B') && tb.data.some((v) => v !== 0))).toBe(true); // it trained
  return { metrics, adapter: maxDiff };
}

/** What the exported-job tests start from (`jobBench`). */
export interface JobBench {
  dir: string;
  home: string;
  backend: Backend;
  datasetId: number;
  /** The run's config, as written to `configFile`. */
  config: Record<string, unknown>;
  configFile: string;
  /** The same run trained locally by the app: the reference every job is compared with. */
  localRun: number;
}

/**
 * A tiny LLaVA and the gradient dataset in `dir`, a back end on `dir/home`, the run's config (fp32
 * on CPU, a checkpoint every step) written to `dir/config.json`, and that run trained by the app.
 */
export async function jobBench(dir: string, run: { seed: number; maxSteps: number; batchSize: number; gradAccum: number }): Promise<JobBench> {
  const model = buildTinyCheckpoint('llava', join(dir, 'llava'));
  const home = join(dir, 'home');
  const backend = openBackend({ home, mode: 'cli', appRoot: REPO_ROOT });
  const datasetId = (await callApi(backend, 'datasets:import', { path: await writeGradientDataset(dir, 4) })).id;
  const config = {
    datasetId, engine: 'torch', baseModel: model, ...run, checkpointEvery: 1, learningRate: 0.01,
    lora: { rank: 8, alpha: 16 }, torch: { python: PYTHON, imageSize: 56, device: 'cpu', precision: 'fp32' },
  };
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  const [local] = await callApi(backend, 'runs:create', { config: config as MethodInput<'runs:create'>['config'] });
  expect(await backend.supervisor.waitFor(local!.id)).toBe('completed');
  return { dir, home, backend, datasetId, config, configFile, localRun: local!.id };
}

/** `mdpo runs export-job <config.json> --out <dir>/<name> --processes 2`, which must succeed. */
export async function exportBenchJob(bench: JobBench, name: string): Promise<string> {
  const out = join(bench.dir, name);
  const r = await cliIn(bench.home, 'runs', 'export-job', bench.configFile, '--out', out, '--processes', '2');
  expect(r.code, r.err).toBe(0);
  return out;
}

/** `mdpo runs import-job <dir> --json`: the job must come back as a completed run, whose id is returned. */
export async function importCompletedJob(bench: JobBench, jobDir: string): Promise<number> {
  const r = await cliIn(bench.home, 'runs', 'import-job', jobDir, '--json');
  expect(r.code, r.err).toBe(0);
  const imported = JSON.parse(r.out) as { runId: number; status: string };
  expect(imported.status).toBe('completed');
  return imported.runId;
}
