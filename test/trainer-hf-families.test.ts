/**
 * Every Hugging Face family src/core/hf trains goes through the app's tfjs engine (API, supervisor,
 * trainer process), on the transformers-made tiny folders of test/fixtures/hf-golden: one mDPO
 * step each, whose loss is 3 ln 2 (LoRA B starts at zero, so policy == reference) at the default
 * learning rate 1e-5 (config null), and a PEFT
 * adapter on the language model's 7 linears per layer with the family's module names.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readSafetensorsFile } from '../src/core/model/checkpoint';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend } from '../src/main/backend-context';
import type { DatasetDetail, RunSummary } from '../src/shared/api';
import { REPO_ROOT, tempDir } from './api-fixtures';
import { GOLDEN_ROOT } from './hf-golden-support';

const FAMILIES = [
  ['smolvlm2', /^base_model\.model\.model\.text_model\.layers\.\d+\./],
  ['llava-llama', /^base_model\.model\.language_model\.model\.layers\.\d+\./],
  ['llava-qwen2', /^base_model\.model\.language_model\.model\.layers\.\d+\./],
  ['onevision', /^base_model\.model\.language_model\.model\.layers\.\d+\./],
] as const;

let tmp: ReturnType<typeof tempDir>;
let datasetRoot: string;
beforeAll(async () => {
  tmp = tempDir('mdpo-hf-families-');
  datasetRoot = join(tmp.dir, 'pairs');
  mkdirSync(join(datasetRoot, 'img'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < 2; i++) {
    writeFileSync(join(datasetRoot, 'img', `${i}.png`), await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 90 * i, g: 150, b: 60 } } }).png().toBuffer());
    lines.push(JSON.stringify({ img_path: `img/${i}.png`, prompt: 'Describe the image.', chosen: `a green field ${i}.`, rejected: 'a dog.' }));
  }
  writeFileSync(join(datasetRoot, 'data.jsonl'), lines.join('\n') + '\n');
});
afterAll(() => tmp.cleanup());

it('one mDPO step per family through the trainer process: loss 3 ln 2, PEFT adapter on the language model', async () => {
  const backend = openBackend({ home: join(tmp.dir, 'home'), mode: 'cli', appRoot: REPO_ROOT, trainerEnv: {} });
  const call = async <T>(channel: string, input?: unknown): Promise<T> => {
    const r = await dispatch(backend.handlers, channel, input);
    if (!r.ok) throw new Error(`${channel}: ${JSON.stringify(r.error)}`);
    return r.value as T;
  };
  try {
    const dataset = await call<DatasetDetail>('datasets:import', { path: datasetRoot });
    for (const [family, keyPrefix] of FAMILIES) {
      const base = join(GOLDEN_ROOT, family, 'model');
      const config = { name: family, datasetId: dataset.id, baseModel: base, backend: 'cpu', batchSize: 2, gradAccum: 1, maxSteps: 1, checkpointEvery: 0, lora: { rank: 2, alpha: 4 }, seed: 1, schedule: 'constant', warmupRatio: 0 };
      const [run] = await call<RunSummary[]>('runs:create', { config });
      const status = await backend.supervisor.waitFor(run!.id);
      expect(status, `${family}: ${JSON.stringify(backend.store.getRun(run!.id)!.error)}`).toBe('completed');
      const loss = backend.store.readMetrics(run!.id).find((s) => s.name === 'loss')!;
      expect(loss.steps, family).toEqual([1]);
      expect(Math.abs(loss.values[0]! - 3 * Math.log(2)), family).toBeLessThan(1e-5);
      // learningRate null: the real-model default, the paper's 1e-5 (REAL_MODEL_DEFAULT_LR).
      expect(backend.store.readMetrics(run!.id).find((s) => s.name === 'learning_rate')!.values[0], family).toBeCloseTo(1e-5, 12);
      const adapter = join(backend.store.getRun(run!.id)!.runDir, 'adapter');
      const cfg = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')) as { r: number; base_model_name_or_path: string };
      expect(cfg.r).toBe(2);
      expect(cfg.base_model_name_or_path).toBe(base);
      const layers = (JSON.parse(readFileSync(join(base, 'config.json'), 'utf8')) as { text_config: { num_hidden_layers: number } }).text_config.num_hidden_layers;
      const keys = [...(await readSafetensorsFile(join(adapter, 'adapter_model.safetensors'))).tensors.keys()];
      expect(keys, family).toHaveLength(layers * 7 * 2);
      for (const k of keys) expect(k, family).toMatch(keyPrefix);
    }
  } finally {
    await backend.close();
  }
}, 600_000);
