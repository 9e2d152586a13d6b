/**
 * The app's tfjs engine trains a user's Hugging Face folder (a tiny SmolVLM/Idefics3 made by
 * transformers, test/fixtures/hf-golden/smolvlm/model) through the real trainer process and
 * store: runs:create accepts it, the step-1 loss is 3 ln 2 (LoRA B starts at zero, so policy ==
 * reference), a run killed with SIGKILL mid-run resumes to the adapters of an uninterrupted run
 * (1e-5), the run's adapter is in PEFT's layout and PeftModel.from_pretrained gives the logits
 * our HfVlm gives with it (1e-4). An unsupported folder is refused before any run exists.
 */
import * as tf from '@tensorflow/tfjs-core';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend';
import { exportMerged, importPeftAdapter } from '../src/core/hf/adapter';
import { loadHfModel } from '../src/core/hf/load';
import { readSafetensorsFile } from '../src/core/model/checkpoint';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend, type Backend } from '../src/main/backend-context';
import { BaseModelError, baseKind } from '../src/main/trainer/base-kind';
import type { TrainConfigInput } from '../src/shared/schemas';
import { callApi, killTrainerAtStep, REPO_ROOT, tempDir } from './api-fixtures';
import { GOLDEN_ROOT, hwcNormalised, maxAbsDiff, readGolden, readSafetensors, runPython, tensor } from './hf-golden-support';
import { PYTHON_SKIP_REASON, describeWithPython } from './python-env';

const BASE = join(GOLDEN_ROOT, 'smolvlm', 'model');
let tmp: ReturnType<typeof tempDir>;
let datasetRoot: string;

beforeAll(async () => {
  tmp = tempDir('mdpo-hf-train-');
  datasetRoot = join(tmp.dir, 'pairs');
  mkdirSync(join(datasetRoot, 'img'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) {
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 30 * i, g: 200 - 20 * i, b: 90 } } })
      .composite([{ input: { create: { width: 8 + i, height: 8, channels: 3, background: { r: 220, g: 40, b: 40 } } }, left: 4 + i, top: 6 }])
      .png()
      .toBuffer();
    writeFileSync(join(datasetRoot, 'img', `${i}.png`), png);
    lines.push(JSON.stringify({ img_path: `img/${i}.png`, prompt: '<image>\nWhat is in the image?', chosen: `a red box ${i}.`, rejected: 'a cat on a sofa.' }));
  }
  writeFileSync(join(datasetRoot, 'data.jsonl'), lines.join('\n') + '\n');
});
afterAll(() => tmp.cleanup());

function open(home: string): Backend {
  return openBackend({ home, mode: 'cli', appRoot: REPO_ROOT, trainerEnv: {} });
}


/** A copy of the fixture folder with config.json's model_type replaced. */
function folderWithModelType(name: string, modelType: string | null): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(BASE)) copyFileSync(join(BASE, f), join(dir, f));
  const cfg = JSON.parse(readFileSync(join(BASE, 'config.json'), 'utf8')) as Record<string, unknown>;
  if (modelType === null) delete cfg.model_type;
  else cfg.model_type = modelType;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}

describe('base folder kinds (what the tfjs engine trains)', () => {
  it('classifies the built-in base, HF families and refuses the rest naming config.baseModel, the file and the model_type', async () => {
    expect(await baseKind('builtin:world-base')).toEqual({ kind: 'builtin' });
    expect(await baseKind(BASE)).toEqual({ kind: 'hf', modelType: 'idefics3' });
    expect(await baseKind(join(GOLDEN_ROOT, 'onevision', 'model'))).toEqual({ kind: 'hf', modelType: 'llava_onevision' });
    expect(await baseKind(join(REPO_ROOT, 'resources', 'base-model'))).toEqual({ kind: 'own' });
    const qwen = folderWithModelType('qwen2-vl', 'qwen2_vl');
    await expect(baseKind(qwen)).rejects.toThrow(BaseModelError);
    await expect(baseKind(qwen)).rejects.toThrow(`config.baseModel: ${qwen} has model_type "qwen2_vl" (${join(qwen, 'config.json')}), which the tfjs engine does not train; it trains idefics3, smolvlm, llava, llava_onevision.`);
    await expect(baseKind(folderWithModelType('no-type', null))).rejects.toThrow(/config\.baseModel: .*no-type.config\.json has no model_type/);
    const bad = join(tmp.dir, 'bad-json');
    mkdirSync(bad);
    writeFileSync(join(bad, 'config.json'), '{ "model_type": ');
    await expect(baseKind(bad)).rejects.toThrow(`config.baseModel: ${join(bad, 'config.json')} is not valid JSON`);
    await expect(baseKind(join(tmp.dir, 'missing'))).rejects.toThrow(`config.baseModel: no checkpoint at ${join(tmp.dir, 'missing')}`);
  });
});

describe('the trainer process trains a Hugging Face folder', () => {
  let backend: Backend;
  let referenceDir = '';
  const home = () => join(tmp.dir, 'home');

  it('runs:create refuses an unsupported model_type for the tfjs engine before any run exists', async () => {
    const b = open(join(tmp.dir, 'home-refuse'));
    try {
      const dataset = await callApi(b, 'datasets:import', { path: datasetRoot });
      const qwen = folderWithModelType('qwen2-vl-create', 'qwen2_vl');
      const r = await dispatch(b.handlers, 'runs:create', { config: { datasetId: dataset.id, baseModel: qwen, backend: 'cpu' } });
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe('bad_request');
        expect(r.error.field).toBe('config.baseModel');
        expect(r.error.message).toContain(`${qwen} has model_type "qwen2_vl"`);
      }
      expect(await callApi(b, 'runs:list', undefined)).toEqual([]);
    } finally {
      await b.close();
    }
  });

  it('step 1 loss = 3 ln 2; SIGKILL mid-run + resume gives the uninterrupted run\'s metrics and adapters (1e-5); the adapter is PEFT-layout', async () => {
    backend = open(home());
    const dataset = await callApi(backend, 'datasets:import', { path: datasetRoot });
    expect(dataset.counts.valid).toBe(6);
    const config: TrainConfigInput = {
      datasetId: dataset.id, baseModel: BASE, variant: 'mdpo', backend: 'cpu', batchSize: 2, gradAccum: 1, epochs: 3,
      maxSteps: 8, checkpointEvery: 2, learningRate: 0.01, warmupRatio: 0, lora: { rank: 4, alpha: 8, dropout: 0.1 }, seed: 5,
    };
    const [reference] = await callApi(backend, 'runs:create', { config: { ...config, name: 'reference' } });
    const [victim] = await callApi(backend, 'runs:create', { config: { ...config, name: 'victim' } });
    const killedAt = await killTrainerAtStep(backend, victim!.id, 3);
    expect(backend.store.getRun(victim!.id)!.error).toBeNull();
    expect(killedAt).toBeGreaterThanOrEqual(3);
    expect(await backend.supervisor.waitFor(victim!.id)).toBe('interrupted');
    expect(await backend.supervisor.waitFor(reference!.id), JSON.stringify(backend.store.getRun(reference!.id)!.error)).toBe('completed');
    const lastCheckpoint = backend.store.latestCheckpoint(victim!.id)!.step;
    expect(lastCheckpoint).toBeGreaterThanOrEqual(2);
    await backend.close();

    backend = open(home());
    const steps: number[] = [];
    backend.subscribe((e) => e.type === 'run:progress' && e.runId === victim!.id && steps.push(e.step));
    await callApi(backend, 'runs:resume', { runId: victim!.id });
    expect(await backend.supervisor.waitFor(victim!.id), JSON.stringify(backend.store.getRun(victim!.id)!.error)).toBe('completed');
    expect(steps[0]).toBe(lastCheckpoint + 1);
    expect(steps.at(-1)).toBe(8);

    const metrics = (id: number) => backend.store.readMetrics(id).filter((s) => !s.name.includes('per_sec') && !s.name.includes('throughput'));
    const a = metrics(reference!.id);
    const b = metrics(victim!.id);
    const loss = a.find((s) => s.name === 'loss')!;
    expect(loss.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Math.abs(loss.values[0]! - 3 * Math.log(2))).toBeLessThan(1e-5); // B = 0: policy == reference
    expect(loss.values.at(-1)!).toBeLessThan(loss.values[0]!); // lr 1e-2 moves it on these pairs
    expect(b.map((s) => s.name)).toEqual(a.map((s) => s.name));
    for (let i = 0; i < a.length; i++) {
      b[i]!.values.forEach((v, j) => expect(Math.abs(v! - a[i]!.values[j]!), `${a[i]!.name}@${a[i]!.steps[j]}`).toBeLessThan(1e-5));
    }

    referenceDir = join(backend.store.getRun(reference!.id)!.runDir, 'adapter');
    const cfg = JSON.parse(readFileSync(join(referenceDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, lora_dropout: 0, base_model_name_or_path: BASE });
    expect(String(cfg.target_modules)).not.toMatch(/vision|connector|lm_head/);
    const [wa, wb] = await Promise.all([readSafetensorsFile(join(referenceDir, 'adapter_model.safetensors')), readSafetensorsFile(join(backend.store.getRun(victim!.id)!.runDir, 'adapter', 'adapter_model.safetensors'))]);
    expect([...wb.tensors.keys()]).toEqual([...wa.tensors.keys()]);
    // 7 linears of each of the language model's layers, A and B, nothing of the vision tower.
    const layers = (JSON.parse(readFileSync(join(BASE, 'config.json'), 'utf8')) as { text_config: { num_hidden_layers: number } }).text_config.num_hidden_layers;
    expect(wa.tensors.size).toBe(layers * 7 * 2);
    for (const k of wa.tensors.keys()) expect(k).toMatch(/^base_model\.model\.model\.text_model\.layers\.\d+\.(self_attn|mlp)\.\w+_proj\.lora_[AB]\.weight$/);
    let maxDiff = 0;
    let movedB = 0;
    for (const [name, t] of wa.tensors) {
      const u = wb.tensors.get(name)!;
      for (let i = 0; i < t.data.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(Number(t.data[i]) - Number(u.data[i])));
        if (name.includes('lora_B') && Math.abs(Number(t.data[i])) > 1e-4) movedB++;
      }
    }
    console.log(`trainer-hf: step-1 loss ${loss.values[0]} (3 ln 2 = ${3 * Math.log(2)}), last ${loss.values.at(-1)}; killed at step ${killedAt}, resumed from ${lastCheckpoint}; adapters resumed vs uninterrupted max abs ${maxDiff.toExponential(2)}`);
    expect(maxDiff).toBeLessThan(1e-5);
    expect(movedB).toBeGreaterThan(0);

    // The probe-answer path of the Inspect screen (answers.ts) reads the run's adapter.
    const { openAnswerer } = await import('../src/core/eval/probe-answer');
    const answerer = await openAnswerer(BASE, referenceDir, { maxTokens: 3, temperature: 0, seed: 0 });
    expect(answerer.family).toBe('idefics3');
    const direct = await answerer.answer({ kind: 'file', path: join(datasetRoot, 'img', '0.png'), relPath: 'img/0.png' }, 'What is in the image?', 'k');
    answerer.dispose();
    // runs:ask (a short-lived trainer process) reads the HF base + PEFT adapter the same way.
    const asked = await callApi(backend, 'runs:ask', { runId: reference!.id, image: `record:${dataset.id}:0`, question: 'What is in the image?', maxTokens: 3 });
    expect(asked.answer).toBe(direct);
    // The built-in world evaluation is refused for an HF base, with the reason.
    await expect(backend.supervisor.evaluate(reference!.id, { scenes: 1, seed: 0 })).rejects.toThrow(`trains the Hugging Face folder ${BASE} (model_type idefics3); the built-in world evaluation needs the built-in base`);
    await backend.close();
  }, 600_000);

  describeWithPython(`PEFT reads the run's adapter${PYTHON_SKIP_REASON}`, () => {
    it('PeftModel.from_pretrained(run adapter) gives the logits our HfVlm gives with it (1e-4), and they differ from the base\'s', async () => {
      expect(referenceDir).not.toBe('');
      await initBackend('cpu');
      const g = await readGolden('smolvlm');
      const { model } = await loadHfModel(BASE, { skipMemoryCheck: true });
      await importPeftAdapter(referenceDir, model);
      const t = tensor(g, 'pixel_values');
      const S = t.shape[t.shape.length - 1]!;
      const batch = { pixels: tf.tensor4d(hwcNormalised(t), [1, S, S, 3]), promptIds: [g.json.prompt_ids], answerIds: [g.json.chosen_ids] };
      const withLora = model.logits(batch, { lora: true });
      const plain = model.logits(batch, { lora: false });
      const ours = withLora.dataSync();
      expect(maxAbsDiff(ours, plain.dataSync())).toBeGreaterThan(1e-3); // the trained adapter changes the logits
      const merged = join(tmp.dir, 'merged');
      await exportMerged(merged, model, { dtype: 'F32' });
      const out = join(tmp.dir, 'theirs.safetensors');
      const stdout = await runPython('check_ours.py', [
        '--family', 'smolvlm', '--model', BASE, '--adapter', referenceDir, '--merged', merged,
        '--golden', join(g.dir, 'golden.safetensors'), '--ids', [...g.json.prompt_ids, ...g.json.chosen_ids].join(','), '--out', out,
      ]);
      const report = JSON.parse(stdout.trim().split('\n').pop()!) as { warnings: string[] };
      expect(report.warnings).toEqual([]);
      const theirs = await readSafetensors(out);
      const d = maxAbsDiff(ours, theirs.get('logits_peft')!.data);
      console.log(`trainer-hf: PEFT logits of the app-trained adapter vs ours: max abs ${d.toExponential(2)}`);
      expect(d).toBeLessThan(1e-4);
      tf.dispose([withLora, plain, batch.pixels]);
      model.dispose();
    }, 300_000);
  });
});
