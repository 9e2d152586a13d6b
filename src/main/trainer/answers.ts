/**
 * Answer jobs (issue 17), inside the trainer process: one model (a base checkpoint, optionally
 * with a run's adapter) answers a list of probe items, one `itemAnswer` message per item as soon
 * as it is written, so the parent stores each at once and a crash loses at most the item in
 * flight. Cancel (the abort signal) stops between items.
 *
 * Which answerer: src/core/eval/probe-answer.ts (tfjs) where it reads the base (this project's
 * format, or a Hugging Face family of src/core/hf); else, for the other Hugging Face families a
 * torch run trains (Qwen2-VL, ...), `python -m mdpo_torch.answer` (transformers generate with the
 * run's PEFT adapter), spoken to in JSON lines from here. Either way the parent (jobs, reuse,
 * resume, fingerprints) is the same.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { initBackend, type BackendName } from '../../core/backend';
import { readImageBytes } from '../../core/data/preprocess';
import type { ImageRef } from '../../core/data/types';
import { openAnswerer, type AnswerSettings, type ProbeAnswerer } from '../../core/eval/probe-answer';
import { SUPPORTED_MODEL_TYPES } from '../../core/hf/config';
import { findPython } from '../python/interpreter';
import { unpackedPath } from '../python/unpacked';
import { CancelledError, type Engine, type TrainJob } from './protocol';

/** True where the tfjs answerer reads the folder: this project's format or a src/core/hf family. */
export function tfjsReads(baseDir: string): boolean {
  let raw: { format?: unknown; model_type?: unknown };
  try {
    raw = JSON.parse(readFileSync(join(baseDir, 'config.json'), 'utf8')) as typeof raw;
  } catch {
    return true; // the tfjs loader reports the unreadable folder itself
  }
  return raw.format === 'mdpo-studio-vlm' || String(raw.model_type ?? '') in SUPPORTED_MODEL_TYPES;
}

/** The answerer for `baseDir` (+ adapter): tfjs where it reads the folder, else the Python one. */
export async function openJobAnswerer(job: Pick<TrainJob, 'config' | 'appRoot'>, baseDir: string, adapterDir: string | null, settings: AnswerSettings): Promise<ProbeAnswerer> {
  if (tfjsReads(baseDir)) {
    await initBackend(job.config.backend as BackendName | 'auto');
    return openAnswerer(baseDir, adapterDir, settings);
  }
  return openPythonAnswerer(job, baseDir, adapterDir, settings);
}

type Reply = { type: 'ready'; family: string } | { type: 'answer'; id: number; text: string } | { type: 'error' | 'failed'; id?: number; error: { name: string; message: string } };

/** `python -m mdpo_torch.answer` (python/mdpo_torch/answer.py): one request per item, one reply line each. */
async function openPythonAnswerer(job: Pick<TrainJob, 'config' | 'appRoot'>, baseDir: string, adapterDir: string | null, settings: AnswerSettings): Promise<ProbeAnswerer> {
  const search = findPython({ explicit: job.config.torch?.python ?? null, explicitLabel: 'torch.python', appRoot: job.appRoot });
  if (!search.found) {
    throw new Error(`${baseDir} is a model the app's own answerer does not read; answering it needs Python (${search.refused ?? search.searched.join('; ')}). Run \`npm run setup:python\` or set MDPO_PYTHON.`);
  }
  const pythonPath = [unpackedPath(join(job.appRoot, 'python')), process.env.PYTHONPATH].filter(Boolean).join(delimiter);
  const child = spawn(search.found.path, ['-m', 'mdpo_torch.answer'], {
    env: { ...process.env, PYTHONPATH: pythonPath, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', PYTHONUNBUFFERED: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (d: string) => stderr.push(d) > 40 && stderr.shift());
  const waiting: ((r: Reply | null) => void)[] = [];
  const replies: (Reply | null)[] = [];
  const push = (r: Reply | null) => (waiting.length ? waiting.shift()!(r) : replies.push(r));
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      push(JSON.parse(line) as Reply);
    } catch {
      stderr.push(`${line}\n`);
    }
  });
  child.on('close', () => push(null));
  child.stdin.on('error', () => {}); // a dead answerer shows as a closed stdout
  const next = () => new Promise<Reply | null>((resolve) => (replies.length ? resolve(replies.shift()!) : waiting.push(resolve)));
  const gone = () => new Error(`The Python answerer (${search.found!.path} -m mdpo_torch.answer) ended early: ${stderr.join('').trim().split('\n').slice(-5).join(' | ') || 'no output'}`);
  const device = job.config.torch?.device ?? 'auto';
  child.stdin.write(JSON.stringify({ base: baseDir, adapter: adapterDir, maxTokens: settings.maxTokens, temperature: settings.temperature, seed: settings.seed, device }) + '\n');
  const ready = await next();
  if (ready?.type !== 'ready') {
    child.kill();
    if (ready && 'error' in ready) throw Object.assign(new Error(ready.error.message), { name: ready.error.name });
    throw gone();
  }
  const scratch = mkdtempSync(join(tmpdir(), 'mdpo-answer-'));
  let n = 0;
  return {
    family: ready.family,
    async answer(image: ImageRef, question: string, itemKey: string) {
      const id = n++;
      const file = join(scratch, `${id}.img`);
      writeFileSync(file, await readImageBytes(image));
      try {
        child.stdin.write(JSON.stringify({ id, key: itemKey, image: file, question }) + '\n');
        const r = await next();
        if (!r) throw gone();
        if (r.type === 'answer' && r.id === id) return r.text;
        if (r.type === 'error') throw Object.assign(new Error(r.error.message), { name: r.error.name });
        throw new Error(`The Python answerer replied ${JSON.stringify(r)} to item ${id}`);
      } finally {
        rmSync(file, { force: true });
      }
    },
    dispose() {
      child.stdin.end();
      child.kill();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

export const answersEngine: Engine = async (job, hooks) => {
  if (job.task?.kind !== 'answers') throw new Error('answersEngine needs an answers task');
  const { baseDir, adapterDir, settings, items } = job.task;
  const answerer = await openJobAnswerer(job, baseDir, adapterDir, settings);
  hooks.log(`answering ${items.length} item(s) with the ${answerer.family} answerer`);
  try {
    for (const item of items) {
      if (hooks.signal.aborted) throw new CancelledError('Cancelled by the user.');
      const text = await answerer.answer(item.image, item.question, item.key);
      hooks.itemAnswer(item.itemId, text);
    }
  } finally {
    answerer.dispose();
  }
  return { step: items.length, result: {} };
};
