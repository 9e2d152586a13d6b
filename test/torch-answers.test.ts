/**
 * Ask and answer jobs on runs trained by the torch engine (issues 15, 17), each run trained by
 * the real torch engine (`python -m mdpo_torch.trainer`, 2 steps) with its adapter in PEFT's
 * layout:
 * - on the LLaVA-Qwen2 golden folder, a family the tfjs answerer reads (src/core/hf);
 * - on a tiny Qwen2-VL folder built by transformers, which only the Python answerer
 *   (python/mdpo_torch/answer.py) reads.
 * Ask and answer jobs return the text transformers + PEFT's greedy generate gives for the same
 * image and question; answers are stored and reused; the built-in world evaluation stays refused.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend, type Backend } from '../src/main/backend-context';
import type { AnswerJob, InspectPage } from '../src/shared/inspect';
import { tempDir } from './api-fixtures';
import { buildTinyCheckpoint, writeGradientDataset } from './torch-fixtures';
import { describeWithPython, PYTHON, PYTHON_SKIP_REASON, REPO_ROOT } from './python-env';

const MODEL = join(REPO_ROOT, 'test', 'fixtures', 'hf-golden', 'llava-qwen2', 'model');
const INPUTS = join(REPO_ROOT, 'test', 'fixtures', 'hf-golden', 'inputs');
const QUESTION = 'What is in the picture?';
const MAX_TOKENS = 6;

const t = tempDir('mdpo-torch-answers-');
let backend: Backend;

const call = (channel: string, input?: unknown) => dispatch(backend.handlers, channel as never, input as never);
async function value<T>(channel: string, input?: unknown): Promise<T> {
  const r = await call(channel, input);
  if (!r.ok) throw new Error(`${channel}: ${JSON.stringify(r.error)}`);
  return r.value as T;
}

/** 32x32 images (the golden model's own size: no resize, so both answerers see the same pixels). */
function writeDataset(dir: string): string {
  const root = join(dir, 'data');
  mkdirSync(join(root, 'images'), { recursive: true });
  const lines: string[] = [];
  for (const [i, name] of ['image.png', 'image-neg.png', 'image.png', 'image-neg.png'].entries()) {
    copyFileSync(join(INPUTS, name), join(root, 'images', `${i}.png`));
    lines.push(JSON.stringify({ img_path: `images/${i}.png`, prompt: `<image>\n${QUESTION}`, chosen: `Stripes ${i}.`, rejected: `A dog ${i}.` }));
  }
  writeFileSync(join(root, 'data.jsonl'), lines.join('\n') + '\n');
  return root;
}

/** transformers + PEFT: the folder's processor and chat template, greedy, stopping at the tokenizer's eos as the app does. */
const HF_GENERATE = `
import json, sys, torch
from PIL import Image
from peft import PeftModel
from transformers import AutoModelForImageTextToText, AutoProcessor
base, adapter, image, question, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
proc = AutoProcessor.from_pretrained(base)
model = AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32)
model = (model if adapter == "-" else PeftModel.from_pretrained(model, adapter)).eval()
msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
text = proc.apply_chat_template(msgs, add_generation_prompt=True)
inputs = proc(text=text, images=[Image.open(image).convert("RGB")], return_tensors="pt")
eos = proc.tokenizer.eos_token_id
with torch.no_grad():
    out = model.generate(**inputs, do_sample=False, max_new_tokens=n, eos_token_id=eos, pad_token_id=eos)
new = out[0, inputs["input_ids"].shape[1]:].tolist()
if eos in new: new = new[: new.index(eos)]
print(json.dumps(proc.tokenizer.decode(new, skip_special_tokens=True).strip()))
`;

/** transformers (+ PEFT unless adapter is null) greedy generate on `image`. */
function hfGenerate(model: string, adapter: string | null, image: string): string {
  const out = execFileSync(PYTHON!, ['-c', HF_GENERATE, model, adapter ?? '-', image, QUESTION, String(MAX_TOKENS)], {
    encoding: 'utf8',
    env: { ...process.env, HF_HUB_OFFLINE: '1' },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return JSON.parse(out.trim().split('\n').pop()!) as string;
}

/** Trains a 2-step mDPO run with the torch engine on `model`; returns its id. */
async function trainTorch(model: string, datasetId: number, imageSize: number): Promise<number> {
  const [run] = await value<{ id: number }[]>('runs:create', {
    config: {
      datasetId,
      engine: 'torch',
      baseModel: model,
      variant: 'mdpo',
      seed: 3,
      maxSteps: 2,
      batchSize: 2,
      gradAccum: 1,
      learningRate: 0.05,
      lora: { rank: 4, alpha: 8 },
      torch: { python: PYTHON, imageSize, device: 'cpu', precision: 'fp32' },
    },
  });
  expect(await backend.supervisor.waitFor(run!.id)).toBe('completed');
  return run!.id;
}

/** A one-image probe set (the copy of `image`); returns its id. */
async function probeSet(name: string, image: string): Promise<number> {
  const probe = join(t.dir, name);
  mkdirSync(join(probe, 'img'), { recursive: true });
  copyFileSync(image, join(probe, 'img', '0.png'));
  writeFileSync(join(probe, 'probe.json'), JSON.stringify([{ id: 'p1', image: 'img/0.png', question: QUESTION, objects: ['dog'] }]));
  return (await value<{ id: number }>('evalsets:import', { path: probe, name })).id;
}

async function waitJobs(setId: number): Promise<AnswerJob[]> {
  for (;;) {
    const jobs = await value<AnswerJob[]>('answers:jobs', { setId });
    if (jobs.every((j) => j.status !== 'queued' && j.status !== 'running')) return jobs;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Ask, then an answer job on the run and its base: both equal HF generate; a second start reuses them. */
async function checkAnswers(runId: number, model: string, datasetId: number, image: string): Promise<{ tuned: string; plain: string }> {
  const adapterDir = join(backend.store.getRun(runId)!.runDir, 'adapter');
  const tuned = hfGenerate(model, adapterDir, image);
  const plain = hfGenerate(model, null, image);
  expect(tuned.length).toBeGreaterThan(0);

  const asked = await value<{ answer: string }>('runs:ask', { runId, image: `record:${datasetId}:0`, question: QUESTION, maxTokens: MAX_TOKENS });
  expect(asked.answer).toBe(tuned);

  const setId = await probeSet(`probe-${runId}`, image);
  const models = [`run:${runId}`, `base:${runId}`];
  await value<AnswerJob[]>('answers:start', { setId, models, maxTokens: MAX_TOKENS });
  const jobs = await waitJobs(setId);
  expect(jobs.map((j) => [j.modelKey, j.status, j.done, j.reused, j.error])).toEqual(models.map((m) => [m, 'completed', 1, 0, null]));
  const page = await value<InspectPage>('inspect:page', { setId, modelA: models[0], modelB: models[1] });
  expect(page.items.map((i) => [i.a?.text, i.b?.text])).toEqual([[tuned, plain]]);
  const again = await value<AnswerJob[]>('answers:start', { setId, models, maxTokens: MAX_TOKENS });
  expect(again.map((j) => [j.status, j.done, j.reused])).toEqual([['completed', 1, 1], ['completed', 1, 1]]);

  // The built-in world evaluation is for the built-in base only.
  const evaluated = await call('runs:evaluate', { runId });
  expect(evaluated).toMatchObject({ ok: false, error: { code: 'conflict' } });
  expect(JSON.stringify(evaluated)).toContain('trained by the torch engine; it cannot be evaluated on the built-in world');
  return { tuned, plain };
}

describeWithPython(`ask and answer jobs on torch runs${PYTHON_SKIP_REASON}`, () => {
  beforeAll(() => {
    backend = openBackend({ home: join(t.dir, 'home'), mode: 'cli', appRoot: REPO_ROOT });
  });
  afterAll(async () => {
    await backend?.close();
    t.cleanup();
  });

  it('LLaVA-Qwen2 (the tfjs answerer): ask and answer jobs equal transformers + PEFT greedy generate', async () => {
    const data = writeDataset(t.dir);
    const datasetId = (await value<{ id: number }>('datasets:import', { path: data })).id;
    const runId = await trainTorch(MODEL, datasetId, 32);
    await checkAnswers(runId, MODEL, datasetId, join(data, 'images', '0.png'));
  }, 300_000);

  it('Qwen2-VL (the Python answerer): ask and answer jobs equal transformers + PEFT greedy generate; no Python is a clear error', async () => {
    const model = buildTinyCheckpoint('qwen2_vl', join(t.dir, 'qwen2_vl'));
    const data = await writeGradientDataset(t.dir, 4);
    const datasetId = (await value<{ id: number }>('datasets:import', { path: data })).id;
    const runId = await trainTorch(model, datasetId, 56);
    const { tuned, plain } = await checkAnswers(runId, model, datasetId, join(data, 'images', '0.png'));
    // The run's adapter is what answered (it changes the text).
    expect(tuned).not.toBe(plain);

    // Without a Python to run the answerer: the job fails naming the interpreter; nothing is stored.
    const run = backend.store.getRun(runId)!;
    const broken = backend.store.insertRun({ name: 'no-python', datasetId, variant: 'mdpo', config: { ...run.config, torch: { ...run.config.torch, python: join(t.dir, 'nope', 'python') } }, runDir: run.runDir, status: 'completed' });
    const asked = await call('runs:ask', { runId: broken, image: `record:${datasetId}:0`, question: QUESTION });
    expect(asked.ok).toBe(false);
    expect(JSON.stringify(asked)).toContain(`torch.python ${join(t.dir, 'nope', 'python')} is not there`);
    const setId = await probeSet('probe-broken', join(data, 'images', '1.png'));
    await value('answers:start', { setId, models: [`run:${broken}`] });
    const [job] = await waitJobs(setId);
    expect([job!.status, job!.done, job!.error?.message]).toEqual(['failed', 0, expect.stringContaining('answering it needs Python')]);
  }, 400_000);
});
