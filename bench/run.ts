/**
 * `npm run bench [-- options]` (entry: bench/main.ts); see bench/README.md.
 *
 *   --backend auto|wasm|cpu|webgpu|...   (default auto: the app's own choice)
 *   --quick                 tiny model, one step, one round (a smoke run)
 *   --no-peer               skip the PyTorch peer (and the parity check)
 *   --sizes demo,large      --variants dpo,mdpo    --batch 8    --lora-rank 64
 *   --repeats 5 --repeats-large 3 --warmup 1 --rounds 2 --peer-threads 0 (0 = torch's default; e.g. 1,2)
 *   --no-ablation --no-profile --out <file.json>
 *   --fast-matmul           experiment: wasm's transposed matMuls on its fast path (bench/fast-matmul.ts)
 *   --share-identity        experiment: wasm's Identity (tfjs clones saved tensors) shares buffers
 * Writes bench-results/bench-<time>.json (or --out) and prints the table.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseBackendChoice } from '../src/core/backend';
import { isVariantName, type VariantName } from '../src/core/objective/variants';
import { DEFAULT_OPTIONS, QUICK_OPTIONS, runBenchmark, type BenchOptions, type BenchResult } from './harness';
import { SIZE_NAMES, type SizeName } from './setup';
import { fmtMs } from './stats';

export function parseArgs(argv: string[]): { options: Omit<BenchOptions, 'log'>; out: string | null } {
  const o: Omit<BenchOptions, 'log'> = { ...DEFAULT_OPTIONS };
  let out: string | null = null;
  const quick = argv.includes('--quick');
  if (quick) Object.assign(o, QUICK_OPTIONS);
  const int = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`Expected ${flag} to be a non-negative integer, but got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--quick': break;
      case '--backend': o.backend = parseBackendChoice(next()); break;
      case '--no-peer': o.peer = false; break;
      case '--no-ablation': o.ablation = false; break;
      case '--no-profile': o.profile = false; break;
      case '--no-strict-parity': o.strictParity = false; break;
      case '--fast-matmul': o.fastMatMul = true; break;
      case '--share-identity': o.shareIdentity = true; break;
      case '--sizes': {
        const v = next().split(',');
        for (const s of v) if (!(SIZE_NAMES as readonly string[]).includes(s)) throw new Error(`Unknown size "${s}". Expected: ${SIZE_NAMES.join(', ')}`);
        o.sizes = v as SizeName[];
        break;
      }
      case '--variants': {
        const v = next().split(',');
        for (const s of v) if (!isVariantName(s)) throw new Error(`Unknown variant "${s}"`);
        o.variants = v as VariantName[];
        break;
      }
      case '--batch': o.batch = Math.max(1, int(a, next())); break;
      case '--lora-rank': o.loraRank = Math.max(1, int(a, next())); break;
      case '--repeats': o.repeats = Math.max(1, int(a, next())); break;
      case '--repeats-large': o.repeatsLarge = Math.max(1, int(a, next())); break;
      case '--warmup': o.warmup = int(a, next()); break;
      case '--rounds': o.rounds = Math.max(1, int(a, next())); break;
      case '--peer-threads': o.peerThreads = next().split(',').map((v) => int(a, v)); break;
      case '--out': out = next(); break;
      default: throw new Error(`Unknown option ${a}. See bench/run.ts for the list.`);
    }
  }
  return { options: o, out };
}

const f1 = (x: number | null | undefined, d = 1) => (x == null || !Number.isFinite(x) ? '-' : x.toFixed(d));

export function formatTable(r: BenchResult): string {
  const lines: string[] = [];
  lines.push(`machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.node}; load avg ${r.machine.loadAvgStart.map((x) => x.toFixed(1)).join(' ')} -> ${r.machine.loadAvgEnd.map((x) => x.toFixed(1)).join(' ')}`);
  lines.push(`ours: ${r.backend.name} (${r.backend.device}), tfjs ${r.backend.tfjs}${r.backend.fastMatMul ? ', --fast-matmul' : ''}${r.backend.shareIdentity ? ', --share-identity' : ''}, matMul peak ${f1(r.peak.ours.gflops)} GFLOP/s (${f1(r.peak.ours.gflopsCpu)} per CPU second)`);
  lines.push(r.peer.available ? `peer: torch ${r.peer.torch} (${r.peer.blas}), threads ${r.options.peerThreads.map((t) => (t === 0 ? 'default' : t)).join(' and ')}, matMul peak ${f1(r.peak.peer)} GFLOP/s (${f1(r.peak.peerCpu)} per CPU second)` : `peer: not run (${r.peer.reason})`);
  for (const p of r.parity) {
    lines.push(`parity ${p.size}/${p.variant}: ${p.ok ? 'OK' : 'FAILED'} — loss ${p.oursLoss.toFixed(6)} vs ${p.peerLoss.toFixed(6)}, log-prob max |d| ${p.logpMaxAbsDiff.toExponential(1)}, grad-norm rel ${p.gradNormRelDiff.toExponential(1)}`);
  }
  lines.push('');
  lines.push('| size (params) | variant | impl | step ms median [min-max] | cpu ms median [min-max] | pairs/s | tokens/s | GFLOP/step | GFLOP/s (wall) | % of matMul peak (wall) | GFLOP/s (cpu) | % of peak (cpu) | tensors/step | bytes/step |');
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of r.rows) {
    lines.push(
      `| ${row.size} (${(row.params / 1e6).toFixed(2)}M) | ${row.variant} | ${row.impl === 'ours' ? `ours (${row.backend})` : `peer (${row.backend})`} | ${fmtMs(row.stepMs)} | ${fmtMs(row.cpuMs)} | ${f1(row.pairsPerSec)} | ${f1(row.tokensPerSec, 0)} | ${f1(row.flopsPerStep / 1e9, 2)} | ${f1(row.gflops, 2)} | ${f1(100 * row.peakShare)} | ${f1(row.gflopsCpu, 2)} | ${f1(100 * row.peakShareCpu)} | ${row.tensorGrowthPerStep == null ? '-' : f1(row.tensorGrowthPerStep, 1)} | ${row.bytesGrowthPerStep == null ? '-' : f1(row.bytesGrowthPerStep, 0)} |`,
    );
  }
  lines.push('');
  lines.push('| size | mdpo / fastest peer (wall) | mdpo / peer (cpu) | mdpo / dpo (wall) | mdpo / dpo (cpu) |');
  lines.push('|---|---|---|---|---|');
  for (const q of r.ratios) lines.push(`| ${q.size} | ${f1(q.mdpoOverPeer, 2)} | ${f1(q.mdpoOverPeerCpu, 2)} | ${f1(q.mdpoOverDpo, 2)} | ${f1(q.mdpoOverDpoCpu, 2)} |`);
  if (r.ablation.length > 0) {
    lines.push('');
    lines.push(`| ablation (${r.options.sizes[0]}, mdpo, ${r.options.batch} pairs/step) | step ms median [min-max] | cpu ms | GFLOP/step | padding overhead | tensors/step |`);
    lines.push('|---|---|---|---|---|---|');
    for (const a of r.ablation) lines.push(`| ${a.name} | ${fmtMs(a.stepMs)} | ${f1(a.cpuMs.median, 0)} | ${f1(a.flopsPerStep / 1e9, 2)} | ${f1(a.paddingOverhead, 2)}x | ${f1(a.tensorGrowthPerStep, 1)} |`);
  }
  if (r.profile) {
    const p = r.profile;
    lines.push('');
    lines.push(`profile (${p.size}, mdpo, the app's step, ${r.backend.name}): ${p.wallMs.toFixed(0)} ms wall, ${p.kernelCalls} kernel calls, matMul ${(100 * p.matMulShareOfKernels).toFixed(0)}% of kernel time, outside kernels (JS) ${(100 * p.outsideShare).toFixed(0)}% of wall`);
    lines.push('| kernel | calls | ms | share |');
    lines.push('|---|---|---|---|');
    for (const k of p.kernels.slice(0, 12)) lines.push(`| ${k.name} | ${k.calls} | ${k.ms.toFixed(1)} | ${(100 * k.share).toFixed(1)}% |`);
    lines.push('| matMul shapes (slowest) | calls | ms | |');
    for (const s of p.topMatMulShapes.slice(0, 6)) lines.push(`| ${s.shapes} | ${s.calls} | ${s.ms.toFixed(1)} | |`);
  }
  return lines.join('\n');
}

export async function main(argv: string[], print: (line: string) => void = (l) => console.log(l)): Promise<void> {
  const { options, out } = parseArgs(argv);
  const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  const result = await runBenchmark({ ...options, log: print }, command);
  const file = out ?? join('bench-results', `bench-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify(result, null, 2));
  print('');
  print(formatTable(result));
  print('');
  print(`written: ${file}`);
}
