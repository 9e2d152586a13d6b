/**
 * The flags of `npm run bench`'s HF comparison (bench/torch-compare.ts), taken out of argv before
 * bench/run.ts sees the rest:
 *   --no-hf          skip it          --hf-only        run only it
 *   --hf-steps 6     steps per implementation (step 1 reported apart; 2 with --quick)
 *   --hf-pairs 8     pairs per step (one micro-batch)        --hf-rank 8   LoRA rank
 * The Python is $MDPO_PYTHON, else <repo>/.venv (npm run setup:python). Writes
 * bench-results/bench-hf-<time>.json and prints the table.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatHfTable, HF_FIXTURE, REPO, runHfComparison } from './torch-compare';

export interface HfFlags {
  mode: 'both' | 'only' | 'off';
  steps: number;
  pairs: number;
  rank: number;
}

export function hfFlags(argv: string[]): { hf: HfFlags; rest: string[] } {
  const hf: HfFlags = { mode: 'both', steps: 6, pairs: 8, rank: 8 };
  const rest: string[] = [];
  const int = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`Expected ${flag} to be an integer >= ${min}, but got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--no-hf') hf.mode = 'off';
    else if (a === '--hf-only') hf.mode = 'only';
    else if (a === '--hf-steps') hf.steps = int(a, argv[++i], 2);
    else if (a === '--hf-pairs') hf.pairs = int(a, argv[++i], 1);
    else if (a === '--hf-rank') hf.rank = int(a, argv[++i], 1);
    else rest.push(a);
  }
  // A smoke run (--quick) times one step after step 1, unless --hf-steps says otherwise.
  if (rest.includes('--quick') && !argv.includes('--hf-steps')) hf.steps = 2;
  return { hf, rest };
}

export function projectPython(): string | null {
  const p = process.env.MDPO_PYTHON ?? join(REPO, '.venv', 'bin', 'python');
  return existsSync(p) ? p : null;
}

export async function runHfPart(hf: HfFlags, argv: string[], print: (l: string) => void = (l) => console.log(l)): Promise<void> {
  const python = projectPython();
  if (!python) {
    print('HF comparison skipped: no project Python environment (npm run setup:python, or MDPO_PYTHON)');
    return;
  }
  const command = `npm run bench${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  const result = await runHfComparison({ model: HF_FIXTURE, pairs: hf.pairs, steps: hf.steps, loraRank: hf.rank, python, log: print }, command);
  const file = join('bench-results', `bench-hf-${result.startedAt.replace(/[:.]/g, '-')}.json`);
  await mkdir('bench-results', { recursive: true });
  await writeFile(file, JSON.stringify(result, null, 2));
  print('');
  print(formatHfTable(result));
  print(`written: ${file}`);
}
