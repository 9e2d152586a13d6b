/**
 * The trainer process with the REAL loop and the REAL (tiny) model: a run killed with SIGKILL
 * mid-run is found interrupted, resumes from its last checkpoint, continues the step count,
 * and ends with exactly the metrics and adapter weights of an uninterrupted run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend, type Backend } from '../src/main/backend-context';
import type { TrainConfigInput } from '../src/shared/schemas';
import { Vlm } from '../src/core/model/model';
import { readSafetensorsFile, saveCheckpoint } from '../src/core/model/checkpoint';
import { Rng } from '../src/core/rng';
import { BUILTIN_SMALL, withOverrides } from '../src/core/model/config';
import { initBackend } from '../src/core/backend';
import { worldModelConfig, worldTokenizer } from '../src/core/world/base';
import { callApi, killTrainerAtStep, REPO_ROOT, tempDir } from './api-fixtures';

let tmp: ReturnType<typeof tempDir>;
let baseDir: string;
let datasetRoot: string;

const COLORS = ['red', 'blue', 'green', 'yellow'] as const;
const RGB: Record<string, [number, number, number]> = { red: [220, 40, 40], blue: [40, 60, 220], green: [40, 200, 60], yellow: [230, 220, 40] };

beforeAll(async () => {
  tmp = tempDir('mdpo-real-');
  await initBackend('cpu');
  // A tiny random base model with the world's word tokenizer, saved like any checkpoint.
  const tokenizer = worldTokenizer();
  // Smaller than BUILTIN_SMALL so that a step takes milliseconds on a shared CPU.
  const tiny = withOverrides(BUILTIN_SMALL, {
    vision: { imageSize: 16, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 },
    text: { hiddenSize: 32, numLayers: 1, numHeads: 2, numKeyValueHeads: 1, intermediateSize: 64 },
  });
  const model = Vlm.create(worldModelConfig(tokenizer, tiny), new Rng(7));
  baseDir = join(tmp.dir, 'base');
  await saveCheckpoint(baseDir, model, { tokenizer });
  // 6 preference pairs over world words: the chosen answer names the square's real colour.
  datasetRoot = join(tmp.dir, 'pairs');
  mkdirSync(join(datasetRoot, 'img'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < 6; i++) {
    const color = COLORS[i % 4]!;
    const wrong = COLORS[(i + 1) % 4]!;
    const [r, g, b] = RGB[color]!;
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 30, g: 30, b: 30 } } })
      .composite([{ input: { create: { width: 8 + i, height: 8 + i, channels: 3, background: { r, g, b } } }, left: 4 + i, top: 6 }])
      .png()
      .toBuffer();
    writeFileSync(join(datasetRoot, 'img', `${i}.png`), png);
    lines.push(JSON.stringify({ img_path: `img/${i}.png`, prompt: '<image>\nDescribe the image.', chosen: `a ${color} square.`, rejected: `a ${wrong} circle and a ${wrong} ring.` }));
  }
  writeFileSync(join(datasetRoot, 'data.jsonl'), lines.join('\n') + '\n');
});
afterAll(() => tmp.cleanup());

function open(home: string): Backend {
  return openBackend({ home, mode: 'cli', appRoot: REPO_ROOT, trainerEnv: {} });
}


describe('trainer process with the real loop and model', () => {
  it('SIGKILL mid-run, restart, resume: the step count continues and the result equals an uninterrupted run', async () => {
    const home = join(tmp.dir, 'home');
    let backend = open(home);
    const dataset = await callApi(backend, 'datasets:import', { path: datasetRoot });
    expect(dataset.counts.valid).toBe(6);
    const config: TrainConfigInput = {
      datasetId: dataset.id,
      baseModel: baseDir,
      variant: 'mdpo',
      backend: 'wasm',
      batchSize: 2,
      gradAccum: 1,
      epochs: 3,
      maxSteps: 16,
      checkpointEvery: 4,
      learningRate: 0.01,
      lora: { rank: 4, alpha: 8 },
      seed: 11,
    };
    // Both runs at once: the uninterrupted reference and the one we kill.
    const [reference] = await callApi(backend, 'runs:create', { config: { ...config, name: 'reference' } });
    const [victim] = await callApi(backend, 'runs:create', { config: { ...config, name: 'victim' } });
    const killedAt = await killTrainerAtStep(backend, victim!.id, 6);
    expect(backend.store.getRun(victim!.id)!.error).toBeNull();
    expect(killedAt).toBeGreaterThanOrEqual(6);
    expect(await backend.supervisor.waitFor(victim!.id)).toBe('interrupted');
    expect(await backend.supervisor.waitFor(reference!.id)).toBe('completed');
    const lastCheckpoint = backend.store.latestCheckpoint(victim!.id)!.step;
    expect(lastCheckpoint).toBeGreaterThanOrEqual(4);
    expect(lastCheckpoint).toBeLessThanOrEqual(killedAt);
    await backend.close();

    // Next start: a fresh backend on the same data folder, as after an app restart.
    backend = open(home);
    expect((await callApi(backend, 'runs:get', { runId: victim!.id })).status).toBe('interrupted');
    const steps: number[] = [];
    backend.subscribe((e) => e.type === 'run:progress' && e.runId === victim!.id && steps.push(e.step));
    await callApi(backend, 'runs:resume', { runId: victim!.id });
    expect(await backend.supervisor.waitFor(victim!.id)).toBe('completed');
    expect(steps[0]).toBe(lastCheckpoint + 1);
    expect(steps.at(-1)).toBe(16);

    const metrics = (id: number) => backend.store.readMetrics(id).filter((s) => !s.name.includes('per_sec') && !s.name.includes('throughput'));
    const a = metrics(reference!.id);
    const b = metrics(victim!.id);
    expect(b.map((s) => s.name)).toEqual(a.map((s) => s.name));
    const loss = a.find((s) => s.name === 'loss')!;
    expect(loss.steps).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expect(loss.values[0]).toBeCloseTo(3 * Math.log(2), 5); // step 1: policy == reference
    for (let i = 0; i < a.length; i++) {
      expect(b[i]!.steps, a[i]!.name).toEqual(a[i]!.steps);
      b[i]!.values.forEach((v, j) => expect(v!, `${a[i]!.name}@${a[i]!.steps[j]}`).toBeCloseTo(a[i]!.values[j]!, 6));
    }
    // The final adapters (PEFT layout) agree tensor by tensor (the loop's resume guarantee: 1e-6).
    const adapter = (id: number) => readSafetensorsFile(join(backend.store.getRun(id)!.runDir, 'adapter', 'adapter_model.safetensors'));
    const [wa, wb] = await Promise.all([adapter(reference!.id), adapter(victim!.id)]);
    expect([...wb.tensors.keys()]).toEqual([...wa.tensors.keys()]);
    let maxDiff = 0;
    let moved = 0;
    for (const [name, t] of wa.tensors) {
      const u = wb.tensors.get(name)!;
      for (let i = 0; i < t.data.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(Number(t.data[i]) - Number(u.data[i])));
        if (name.includes('lora_B') && t.data[i] !== 0) moved++;
      }
    }
    expect(maxDiff).toBeLessThan(1e-6);
    expect(moved).toBeGreaterThan(0); // training changed the adapters (B starts at zero)

    // Evaluation of the finished run in a trainer process: exact metrics and marked outputs.
    const progress: string[] = [];
    backend.subscribe((e) => e.type === 'run:evaluation' && progress.push(e.state));
    await backend.supervisor.evaluate(reference!.id, { scenes: 3, seed: 0 });
    const rows = await callApi(backend, 'runs:evaluations', { runId: reference!.id });
    const metricNames = rows.map((r) => `${r.metric}${r.setting ? `/${r.setting}` : ''}`);
    expect(metricNames).not.toContain('Hal'); // AMBER's Hal is CHAIR_s: not stored twice
    for (const name of ['CHAIR_s', 'CHAIR_i', 'Cover', 'Cog', 'POPE/accuracy/random', 'POPE/f1/popular', 'POPE/yesRatio/adversarial']) expect(metricNames).toContain(name);
    for (const r of rows) expect(Number.isFinite(r.value)).toBe(true);
    const outputs = await callApi(backend, 'runs:outputs', { runId: reference!.id });
    expect(outputs.total).toBe(3);
    expect(outputs.items[0]!.question).toBe('Describe the image.');
    expect(Array.isArray(outputs.items[0]!.marks)).toBe(true);
    const img = await callApi(backend, 'images:get', { ref: outputs.items[0]!.image });
    expect(img.width).toBe(16);
    expect(progress.at(-1)).toBe('done');

    // Ask the run's model about a dataset image (a short-lived trainer process answers).
    const asked = await callApi(backend, 'runs:ask', { runId: reference!.id, image: `record:${dataset.id}:0`, question: 'Describe the image.', maxTokens: 8 });
    expect(asked.runId).toBe(reference!.id);
    expect(typeof asked.answer).toBe('string');
    expect(Array.isArray(asked.objects)).toBe(true);
    await backend.close();
  });
});
