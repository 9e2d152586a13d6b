/**
 * The bridge to the PyTorch peer (bench/peer.py): everything goes through files in a temp
 * folder, written with the app's own writers.
 *
 *   model/      our checkpoint (saveCheckpoint: config.json + model.safetensors)
 *   adapter/    the LoRA init (saveAdapter: PEFT layout)
 *   images.safetensors   "images" and "negatives" (m'), [B, H, W, 3] in [0, 1]
 *   batch.json  token ids, objective, optimizer settings, repeats
 * The peer answers in peer-parity.json / peer-time.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveAdapter, saveCheckpoint } from '../src/core/model/checkpoint';
import type { Vlm } from '../src/core/model/model';
import { encodeSafetensors } from '../src/core/model/safetensors';
import type { ObjectiveConfig } from '../src/core/objective/variants';
import type { BenchSource } from './setup';

export const PEER_SCRIPT = fileURLToPath(new URL('./peer.py', import.meta.url));

/** Debian's interpreter (where apt puts python3-torch), else whatever python3 is on PATH. */
export function pythonPath(): string {
  return process.env.BENCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** null when torch imports; else why not. */
export function peerUnavailable(): string | null {
  const r = spawnSync(pythonPath(), ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${pythonPath()}: ${r.error.message}`;
  if (r.status !== 0) return `torch does not import in ${pythonPath()} (run scripts/bench-setup.sh): ${r.stderr.trim().split('\n').pop()}`;
  return null;
}

export interface PeerJob {
  objective: ObjectiveConfig;
  learningRate: number;
  weightDecay: number;
  warmup: number;
  repeats: number;
  threads: number;
}

export async function writeExchange(dir: string, model: Vlm, source: BenchSource, batch: number, job: PeerJob): Promise<void> {
  await mkdir(dir, { recursive: true });
  await saveCheckpoint(join(dir, 'model'), model);
  await saveAdapter(join(dir, 'adapter'), model);
  const [H, W] = source.imageShape;
  const per = H * W * 3;
  const images = new Float32Array(batch * per);
  const negatives = new Float32Array(batch * per);
  const ex = Array.from({ length: batch }, (_, i) => source.example(i));
  ex.forEach((e, i) => {
    images.set(e.image, i * per);
    negatives.set(source.negative(i), i * per);
  });
  await writeFile(
    join(dir, 'images.safetensors'),
    encodeSafetensors([
      ['images', { dtype: 'F32', shape: [batch, H, W, 3], data: images }],
      ['negatives', { dtype: 'F32', shape: [batch, H, W, 3], data: negatives }],
    ]),
  );
  const o = job.objective;
  await writeFile(
    join(dir, 'batch.json'),
    JSON.stringify({
      promptIds: ex.map((e) => e.promptIds),
      chosenIds: ex.map((e) => e.chosenIds),
      rejectedIds: ex.map((e) => e.rejectedIds),
      beta: o.beta,
      delta: o.delta,
      weights: o.terms,
      learningRate: job.learningRate,
      weightDecay: job.weightDecay,
      warmup: job.warmup,
      repeats: job.repeats,
      threads: job.threads,
    }),
  );
}

export interface PeerParity {
  torch: string;
  threads: number;
  loss: number;
  gradNorm: number;
  /** [chosen, rejected, imageless|null] per pair. */
  policy: (number[] | null)[];
  reference: (number[] | null)[];
  policyAfterStep: (number[] | null)[];
}

export interface PeerTiming {
  torch: string;
  threads: number;
  blas: string;
  stepMs: number[];
  cpuMs: number[];
  matMulPeakGflops: number;
  matMulPeakGflopsCpu: number;
}

export async function runPeer(dir: string, mode: 'parity', threads?: number): Promise<PeerParity>;
export async function runPeer(dir: string, mode: 'time', threads?: number): Promise<PeerTiming>;
export async function runPeer(dir: string, mode: 'parity' | 'time', threads?: number): Promise<PeerParity | PeerTiming> {
  const args = [PEER_SCRIPT, dir, mode, ...(threads ? [String(threads)] : [])];
  const r = spawnSync(pythonPath(), args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw new Error(`peer: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`peer (${mode}) exited with ${r.status}:\n${r.stderr}`);
  return JSON.parse(await readFile(join(dir, `peer-${mode}.json`), 'utf8'));
}
