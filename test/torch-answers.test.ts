/**
 * Ask and answer jobs on runs trained by the torch engine (issues 15, 17): a run trained by the
 * real torch engine (`python -m mdpo_torch.trainer`, 2 steps) on the LLaVA-Qwen2 golden folder,
 * whose family the tfjs answerer reads, with the adapter the engine wrote in PEFT's layout. Ask
 * and an answer job return the text transformers + PEFT's greedy generate gives for the same
 * image and question; the built-in world evaluation stays refused, and so does ask on a base the
 * tfjs answerer does not read.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend, type Backend } from '../src/main/backend-context';
import type { AnswerJob, InspectPage } from '../src/shared/inspect';
import { tempDir } from './api-fixtures';
import { describeWithPython, PYTHON, PYTHON_SKIP_REASON, REPO_ROOT } from './python-env';

const MODEL = join(REPO_ROOT, 'test', 'fixtures', 'hf-golden', 'llava-qwen2', 'model');
const INPUTS = join(REPO_ROOT, 'test', 'fixtures', 'hf-golden', 'inputs');
const QUESTION = 'What is in the picture?';
const MAX_TOKENS = 6;

const t = tempDir('mdpo-torch-answers-');
let backend: Backend;
let runId: number;
let datasetId: number;
let imagePath: string;

const call = (channel: string, input?: unknown) => dispatch(backend.handlers, channel as never, input as never);
async function value<T>(channel: string, input?: unknown): Promise<T> {
  const r = await call(channel, input);
  if (!r.ok) throw new Error(`${channel}: ${JSON.stringify(r.error)}`);
  return r.value as T;
}

/** 32x32 images (the model's own size: no resize, so both sides see the same pixels). */
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
model = PeftModel.from_pretrained(AutoModelForImageTextToText.from_pretrained(base, dtype=torch.float32), adapter).eval()
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

describeWithPython(`ask and answer jobs on torch runs${PYTHON_SKIP_REASON}`, () => {
  beforeAll(async () => {
    backend = openBackend({ home: join(t.dir, 'home'), mode: 'cli', appRoot: REPO_ROOT });
    const data = writeDataset(t.dir);
    imagePath = join(data, 'images', '0.png');
    datasetId = (await value<{ id: number }>('datasets:import', { path: data })).id;
    const [run] = await value<{ id: number }[]>('runs:create', {
      config: {
        datasetId,
        engine: 'torch',
        baseModel: MODEL,
        variant: 'mdpo',
        seed: 3,
        maxSteps: 2,
        batchSize: 2,
        gradAccum: 1,
        learningRate: 0.05,
        lora: { rank: 4, alpha: 8 },
        torch: { python: PYTHON, imageSize: 32, device: 'cpu', precision: 'fp32' },
      },
    });
    runId = run!.id;
    expect(await backend.supervisor.waitFor(runId)).toBe('completed');
  }, 300_000);
  afterAll(async () => {
    await backend?.close();
    t.cleanup();
  });

  it('ask and an answer job give transformers + PEFT greedy generate text; evaluation stays refused', async () => {
    const adapterDir = join(backend.store.getRun(runId)!.runDir, 'adapter');
    const expected = JSON.parse(
      execFileSync(PYTHON!, ['-c', HF_GENERATE, MODEL, adapterDir, imagePath, QUESTION, String(MAX_TOKENS)], {
        encoding: 'utf8',
        env: { ...process.env, HF_HUB_OFFLINE: '1' },
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim().split('\n').pop()!,
    ) as string;
    expect(expected.length).toBeGreaterThan(0);

    const asked = await value<{ answer: string }>('runs:ask', { runId, image: `record:${datasetId}:0`, question: QUESTION, maxTokens: MAX_TOKENS });
    expect(asked.answer).toBe(expected);

    // An answer job on the run: the same text, stored; a second start reuses it.
    const probe = join(t.dir, 'probe');
    mkdirSync(join(probe, 'img'), { recursive: true });
    copyFileSync(imagePath, join(probe, 'img', '0.png'));
    writeFileSync(join(probe, 'probe.json'), JSON.stringify([{ id: 'p1', image: 'img/0.png', question: QUESTION, objects: ['dog'] }]));
    const set = await value<{ id: number }>('evalsets:import', { path: probe });
    const models = await value<{ key: string }[]>('answers:models');
    expect(models.map((m) => m.key)).toEqual([`base:${runId}`, `run:${runId}`]);
    await value<AnswerJob[]>('answers:start', { setId: set.id, models: [`run:${runId}`], maxTokens: MAX_TOKENS });
    for (;;) {
      const jobs = await value<AnswerJob[]>('answers:jobs', { setId: set.id });
      if (jobs.every((j) => j.status !== 'queued' && j.status !== 'running')) {
        expect(jobs.map((j) => [j.status, j.done, j.error])).toEqual([['completed', 1, null]]);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    const page = await value<InspectPage>('inspect:page', { setId: set.id, modelA: `run:${runId}`, modelB: `base:${runId}` });
    expect(page.items.map((i) => i.a?.text)).toEqual([expected]);
    const again = await value<AnswerJob[]>('answers:start', { setId: set.id, models: [`run:${runId}`], maxTokens: MAX_TOKENS });
    expect(again[0]).toMatchObject({ status: 'completed', done: 1, reused: 1 });

    // The built-in world evaluation is for the built-in base only.
    const evaluated = await call('runs:evaluate', { runId });
    expect(evaluated).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(JSON.stringify(evaluated)).toContain('trained by the torch engine; it cannot be evaluated on the built-in world');
  }, 300_000);

  it('refuses ask on a torch run whose base the tfjs answerer does not read, naming the model_type and file', async () => {
    const other = join(t.dir, 'qwen2vl-like');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'config.json'), JSON.stringify({ model_type: 'qwen2_vl' }));
    const run = backend.store.getRun(runId)!;
    const fake = backend.store.insertRun({ name: 'other', datasetId, variant: 'mdpo', config: { ...run.config, baseModel: other }, runDir: run.runDir, status: 'completed' });
    const r = await call('runs:ask', { runId: fake, image: `record:${datasetId}:0`, question: QUESTION });
    expect(r).toMatchObject({ ok: false, error: { code: 'conflict' } });
    const message = (r as { error: { message: string } }).error.message;
    expect(message).toContain('qwen2_vl');
    expect(message).toContain(join(other, 'config.json'));
  });
});
