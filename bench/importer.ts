/**
 * `npm run bench:import [-- options]`: the dataset importer at real sizes (issue 18, item 3).
 *
 *   --records 1000000   records to generate (default 1,000,000)
 *   --format jsonl|json  one JSONL file, or one JSON list (default jsonl)
 *   --images 1000       distinct image files the records point at (default 1000)
 *   --phases validate,import   validate = `datasets validate` (report only);
 *                              import = `datasets:import` (store row + records.json)
 *   --heap-mb <n>       run each phase with V8's heap capped at n MB (--max-old-space-size):
 *                       shows the memory is bounded, whatever the GC's laziness makes of the RSS
 *   --keep              keep the generated folder (its path is printed)
 *   --out <file.json>   default bench-results/import-<time>.json
 *
 * Generates a Silkie-style dataset into a temp folder (nothing is committed): answers of
 * 80-400 characters, one bad line in the middle. Each phase runs in a fresh Node process, so
 * its peak RSS (getrusage maxrss) is its own; the wall time includes reading, parsing,
 * checking every record and (import) writing the records file and the store row.
 */
import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { ValidationReport } from '../src/core/data/types';

interface Options {
  records: number;
  format: 'jsonl' | 'json';
  images: number;
  phases: string[];
  keep: boolean;
  out: string | null;
  heapMb: number | null;
}

export interface PhaseResult {
  phase: string;
  wallMs: number;
  /** User + system CPU time of the phase's process (steadier than wall time on a shared machine). */
  cpuMs: number;
  peakRssMB: number;
  records: number;
  valid: number;
  errors: number;
  firstError: string | null;
  reportBytes: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { records: 1_000_000, format: 'jsonl', images: 1000, phases: ['validate', 'import'], keep: false, out: null, heapMb: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const int = (v: string): number => {
      const n = Number(v.replace(/_/g, ''));
      if (!Number.isInteger(n) || n < 1) throw new Error(`${a} expects a positive integer, got ${v}`);
      return n;
    };
    if (a === '--records') o.records = int(next());
    else if (a === '--images') o.images = int(next());
    else if (a === '--format') {
      const f = next();
      if (f !== 'jsonl' && f !== 'json') throw new Error(`--format expects jsonl or json, got ${f}`);
      o.format = f;
    } else if (a === '--phases') o.phases = next().split(',');
    else if (a === '--keep') o.keep = true;
    else if (a === '--heap-mb') o.heapMb = int(next());
    else if (a === '--out') o.out = next();
    else throw new Error(`Unknown option ${a}. See bench/importer.ts for the list.`);
  }
  for (const p of o.phases) if (p !== 'validate' && p !== 'import') throw new Error(`Unknown phase ${p}: expected validate, import`);
  return o;
}

/** Deterministic words, so every run generates the same bytes. */
const WORDS = 'the a red blue green small large circle square triangle dog cat car tree left right above below near two three image shows there is no one person'.split(' ');

function text(seed: number, min: number, max: number): string {
  let x = (seed * 2654435761) >>> 0;
  const len = min + (x % (max - min));
  let s = '';
  while (s.length < len) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += (s ? ' ' : '') + WORDS[(x >>> 8) % WORDS.length];
  }
  return `${s}.`;
}

/** The dataset: `images` PNGs and one data file; record `bad` is a broken line. */
export async function generate(dir: string, o: Pick<Options, 'records' | 'format' | 'images'>): Promise<{ file: string; bad: number; bytes: number }> {
  await mkdir(join(dir, 'images'), { recursive: true });
  for (let k = 0; k < o.images; k++) {
    const png = await sharp({ create: { width: 16, height: 12, channels: 3, background: { r: k % 256, g: (k >> 8) % 256, b: 77 } } }).png().toBuffer();
    await writeFile(join(dir, 'images', `${k}.png`), png);
  }
  const file = join(dir, o.format === 'jsonl' ? 'train.jsonl' : 'train.json');
  const out = createWriteStream(file);
  const bad = Math.floor(o.records / 2);
  let bytes = 0;
  const put = async (s: string): Promise<void> => {
    bytes += Buffer.byteLength(s);
    if (!out.write(s)) await new Promise((r) => out.once('drain', r));
  };
  if (o.format === 'json') await put('[\n');
  let buf = '';
  for (let k = 0; k < o.records; k++) {
    const rec =
      k === bad
        ? '{"id": "broken", "img_path": "images/0.png", "prompt": oops}'
        : JSON.stringify({ id: `pair-${k}`, img_path: `images/${k % o.images}.png`, prompt: `<image>\nQuestion ${k}: ${text(k, 20, 80)}`, chosen: text(k + 1, 80, 400), rejected: text(k + 2, 80, 400) });
    buf += o.format === 'jsonl' ? `${rec}\n` : `${k > 0 ? ',\n' : ''}${rec}`;
    if (buf.length > 1 << 20) {
      await put(buf);
      buf = '';
    }
  }
  await put(o.format === 'json' ? `${buf}\n]\n` : buf);
  await new Promise<void>((r) => out.end(r));
  return { file, bad, bytes };
}

/** One phase in this process (the child). Prints one JSON line. */
async function runPhase(phase: string, root: string, home: string): Promise<void> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let r: Omit<PhaseResult, 'phase' | 'wallMs' | 'cpuMs' | 'peakRssMB'>;
  if (phase === 'validate') {
    const mod = (await import('../src/core/data/import')) as Record<string, unknown>;
    // validateDataset keeps no record; before it existed (the old importer), importDataset.
    const validate = (mod.validateDataset ?? mod.importDataset) as (root: string) => Promise<{ report: ValidationReport }>;
    const { report } = await validate(root);
    const errors = report.issues.filter((i) => i.severity === 'error');
    r = { records: report.summary.records, valid: report.summary.valid, errors: errors.length, firstError: errors[0]?.message ?? null, reportBytes: JSON.stringify(report).length };
  } else {
    const { Store } = await import('../src/main/store');
    const { DatasetService } = await import('../src/main/api/datasets');
    const store = Store.open(join(home, 'mdpo.sqlite'));
    const service = new DatasetService(store, join(home, 'datasets'));
    const d = await service.import({ path: root } as Parameters<DatasetService['import']>[0]);
    const errors = d.report.issues.filter((i) => i.severity === 'error');
    r = { records: d.counts.records, valid: d.counts.valid, errors: errors.length, firstError: errors[0]?.message ?? null, reportBytes: JSON.stringify(d.report).length };
    store.close();
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ phase, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, peakRssMB, ...r }));
}

async function main(argv: string[]): Promise<void> {
  const child = argv.indexOf('--child');
  if (child >= 0) return runPhase(argv[child + 1], argv[child + 2], argv[child + 3]);
  const o = parseArgs(argv);
  const dir = await mkdtemp(join(os.tmpdir(), 'mdpo-bench-import-'));
  const log = (s: string): void => console.log(s);
  try {
    let t = performance.now();
    const g = await generate(dir, o);
    log(`generated ${o.records.toLocaleString('en')} records (${o.format}, ${(g.bytes / 1e6).toFixed(0)} MB, ${o.images} images, bad record ${g.bad}) in ${((performance.now() - t) / 1000).toFixed(1)} s: ${dir}`);
    const results: PhaseResult[] = [];
    const self = fileURLToPath(import.meta.url);
    for (const phase of o.phases) {
      const home = join(dir, `home-${phase}`);
      await mkdir(home, { recursive: true });
      t = performance.now();
      const heap = o.heapMb ? [`--max-old-space-size=${o.heapMb}`] : [];
      const p = spawnSync(process.execPath, [...heap, '--import', 'tsx', self, '--child', phase, dir, home], { encoding: 'utf8', maxBuffer: 64 << 20, cwd: resolve(dirname(self), '..') });
      const line = p.stdout.trim().split('\n').at(-1) ?? '';
      if (p.status !== 0 || !line.startsWith('{')) {
        const tail = `${p.stdout}\n${p.stderr}`.trim().split('\n').slice(-8).join('\n');
        log(`${phase}: FAILED after ${((performance.now() - t) / 1000).toFixed(1)} s (exit ${p.status ?? p.signal}):\n${tail}`);
        results.push({ phase, wallMs: performance.now() - t, cpuMs: NaN, peakRssMB: NaN, records: 0, valid: 0, errors: 0, firstError: tail, reportBytes: 0 });
        continue;
      }
      const r = JSON.parse(line) as PhaseResult;
      results.push(r);
      log(`${phase}: ${(r.wallMs / 1000).toFixed(1)} s wall (${(r.cpuMs / 1000).toFixed(1)} s CPU), peak RSS ${r.peakRssMB.toFixed(0)} MB, ${r.valid.toLocaleString('en')} of ${r.records.toLocaleString('en')} valid, ${r.errors} error(s)${r.firstError ? `: ${r.firstError}` : ''}`);
    }
    const result = { command: `npm run bench:import${argv.length ? ` -- ${argv.join(' ')}` : ''}`, startedAt: new Date().toISOString(), machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, loadAvg: os.loadavg() }, options: o, dataBytes: g.bytes, results };
    const file = o.out ?? join('bench-results', `import-${result.startedAt.replace(/[:.]/g, '-')}.json`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify(result, null, 2));
    log('');
    log(`machine: ${result.machine.cpu}, ${result.machine.cores} cores, ${result.machine.node}; load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}${o.heapMb ? `; V8 heap capped at ${o.heapMb} MB` : ''}`);
    log(`| records | format | phase | wall s | CPU s | peak RSS MB | valid | errors |`);
    log(`|---|---|---|---|---|---|---|---|`);
    for (const r of results) log(`| ${o.records.toLocaleString('en')} | ${o.format} | ${r.phase} | ${(r.wallMs / 1000).toFixed(1)} | ${(r.cpuMs / 1000).toFixed(1)} | ${r.peakRssMB.toFixed(0)} | ${r.valid.toLocaleString('en')} | ${r.errors} |`);
    log(`written: ${file}`);
    if (results.some((r) => !Number.isFinite(r.peakRssMB))) process.exitCode = 1;
  } finally {
    if (o.keep) log(`kept: ${dir}`);
    else await rm(dir, { recursive: true, force: true });
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
