/**
 * Fixtures for the inspection tests: two small probe sets (POPE-style yes/no labels; object
 * annotations) with generated PNGs, and two completed runs of a real-family tiny checkpoint
 * (a random SmolVLM/Idefics3 folder in Hugging Face's layout) whose adapters are PEFT folders
 * with different non-zero LoRA weights, so the two runs answer differently.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { initBackend } from '../src/core/backend';
import { exportPeftAdapter } from '../src/core/hf/adapter';
import { loadHfModel } from '../src/core/hf/load';
import { writeTinyHfFolder } from '../src/core/hf/testing/fixtures';
import { Rng } from '../src/core/rng';
import type { Store } from '../src/main/store';
import { trainConfigSchema } from '../src/shared/schemas';

async function png(i: number): Promise<Buffer> {
  return sharp({ create: { width: 32, height: 32, channels: 3, background: { r: 30 + 50 * i, g: 120, b: 220 - 40 * i } } }).png().toBuffer();
}

/** pope/pope.jsonl (4 items, 2 images) and objects/probe.json (3 items); returns both folders. */
export async function writeProbeSets(dir: string): Promise<{ pope: string; objects: string }> {
  const pope = join(dir, 'pope');
  const objects = join(dir, 'objects');
  for (const d of [pope, objects]) mkdirSync(join(d, 'img'), { recursive: true });
  for (let i = 0; i < 3; i++) {
    writeFileSync(join(pope, 'img', `${i}.png`), await png(i));
    writeFileSync(join(objects, 'img', `${i}.png`), await png(i + 3));
  }
  const rows = [
    { question_id: 1, image: 'img/0.png', text: 'Is there a dog in the image?', label: 'yes' },
    { question_id: 2, image: 'img/0.png', text: 'Is there a cat in the image?', label: 'no' },
    { question_id: 3, image: 'img/1.png', text: 'Is there a car in the image?', label: 'yes' },
    { question_id: 4, image: 'img/1.png', text: 'Is there a person in the image?', label: 'no' },
  ];
  writeFileSync(join(pope, 'pope.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  writeFileSync(
    join(objects, 'probe.json'),
    JSON.stringify([
      { id: 'o1', image: 'img/0.png', question: 'Describe the image.', objects: ['dog', 'sofa'] },
      { id: 'o2', image: 'img/1.png', question: 'Describe the image.', objects: ['person', 'bicycle'] },
      { id: 'o3', image: 'img/2.png', question: 'Describe the image.', objects: ['forklift'] },
    ]),
  );
  return { pope, objects };
}

/** A tiny SmolVLM folder and two completed runs on it, each with its own PEFT adapter. */
export async function writeHfRuns(dir: string, store: Store): Promise<{ base: string; runIds: number[] }> {
  await initBackend('cpu');
  const base = join(dir, 'smolvlm-tiny');
  await writeTinyHfFolder(base, 'smolvlm', { seed: 3 });
  const runIds: number[] = [];
  for (const [k, variant] of (['dpo', 'mdpo'] as const).entries()) {
    const runDir = join(dir, 'runs', variant);
    const { model } = await loadHfModel(base, { skipMemoryCheck: true });
    model.addLora({ rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new Rng(10 + k));
    for (const ad of model.lora!.adapters.values()) ad.b.assign(tf.randomNormal(ad.b.shape, 0, 0.5, 'float32', 20 + k));
    await exportPeftAdapter(join(runDir, 'adapter'), model);
    model.dispose();
    const id = store.insertRun({
      name: `tiny ${variant}`,
      datasetId: null,
      variant,
      config: trainConfigSchema.parse({ datasetId: 1, baseModel: base, variant, backend: 'cpu' }),
      runDir,
      status: 'completed',
    });
    runIds.push(id);
  }
  return { base, runIds };
}

/**
 * A completed run on the shipped built-in base whose adapter nudges it (small random LoRA B),
 * and an object-annotated probe set of held-out world scenes ("Describe the image.", objects
 * named "<color> <shape>" as the world's captions name them): answers name objects, so the
 * automatic marks and CHAIR have something to find.
 */
export async function writeWorldRunAndSet(dir: string, store: Store, scenes = 4): Promise<{ runId: number; set: string }> {
  const { loadCheckpoint, saveAdapter } = await import('../src/core/model/checkpoint');
  const { evalScenes } = await import('../src/core/world/splits');
  const { scenePng } = await import('../src/core/world/render');
  const { DESCRIBE_PROMPT } = await import('../src/core/world/grammar');
  const { BUILTIN_BASE } = await import('../src/shared/schemas');
  await initBackend('cpu');
  const runDir = join(dir, 'runs', 'world');
  const { model } = await loadCheckpoint(join(process.cwd(), 'resources', 'base-model'));
  model.addLora({ rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new Rng(7));
  for (const ad of model.lora!.adapters.values()) ad.b.assign(tf.randomNormal(ad.b.shape, 0, 0.05, 'float32', 8));
  await saveAdapter(join(runDir, 'adapter'), model);
  model.dispose();
  const runId = store.insertRun({
    name: 'world mdpo',
    datasetId: null,
    variant: 'mdpo',
    config: trainConfigSchema.parse({ datasetId: 1, baseModel: BUILTIN_BASE, backend: 'cpu' }),
    runDir,
    status: 'completed',
  });
  const set = join(dir, 'world-probe');
  mkdirSync(join(set, 'img'), { recursive: true });
  const items = [];
  for (const scene of evalScenes(3, scenes, { imageSize: 32 })) {
    writeFileSync(join(set, 'img', `${scene.id}.png`), await scenePng(scene));
    items.push({ id: scene.id, image: `img/${scene.id}.png`, question: DESCRIBE_PROMPT, objects: scene.objects.map((o) => `${o.color} ${o.shape}`) });
  }
  writeFileSync(join(set, 'world.json'), JSON.stringify(items));
  return { runId, set };
}
