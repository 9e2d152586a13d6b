/**
 * openAnswerer on a real-family tiny checkpoint (a random SmolVLM/Idefics3 folder in HF's
 * layout) with and without a PEFT adapter: greedy answers are deterministic, the adapter changes
 * them, and seeded sampling repeats per item key.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { tinyPng } from '../data/testing/fixtures';
import { writeFile } from 'node:fs/promises';
import { exportPeftAdapter } from '../hf/adapter';
import { loadHfModel } from '../hf/load';
import { writeTinyHfFolder } from '../hf/testing/fixtures';
import { Rng } from '../rng';
import { openAnswerer } from './probe-answer';

let dir: string;
let base: string;
let adapter: string;
const image = () => ({ kind: 'file' as const, path: join(dir, 'a.png'), relPath: 'a.png' });

beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'probe-answer-'));
  base = join(dir, 'base');
  adapter = join(dir, 'adapter');
  await writeTinyHfFolder(base, 'smolvlm', { seed: 3 });
  await writeFile(join(dir, 'a.png'), await tinyPng(32, 32, 4));
  const { model } = await loadHfModel(base, { skipMemoryCheck: true });
  model.addLora({ rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new Rng(5));
  // Non-zero B so the adapter changes the model (a fresh LoRA has B = 0).
  for (const ad of model.lora!.adapters.values()) ad.b.assign(tf.randomNormal(ad.b.shape, 0, 0.5, 'float32', 9));
  await exportPeftAdapter(adapter, model);
  model.dispose();
}, 60_000);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openAnswerer on a tiny SmolVLM folder', () => {
  it('greedy answers are deterministic; the PEFT adapter changes them; no tensors leak', async () => {
    const settings = { maxTokens: 6, temperature: 0, seed: 0 };
    const plain = await openAnswerer(base, null, settings);
    const tuned = await openAnswerer(base, adapter, settings);
    expect(plain.family).toBe('idefics3');
    const before = tf.memory().numTensors;
    const a1 = await plain.answer(image(), 'What is in the image?', 'k1');
    const a2 = await plain.answer(image(), 'What is in the image?', 'k2');
    const b1 = await tuned.answer(image(), 'What is in the image?', 'k1');
    expect(tf.memory().numTensors).toBe(before);
    expect(a2).toBe(a1);
    expect(b1).not.toBe(a1);
    plain.dispose();
    tuned.dispose();
  }, 60_000);

  it('seeded sampling repeats for the same item key and seed, whatever came before', async () => {
    const s = { maxTokens: 6, temperature: 1.5, seed: 11 };
    const one = await openAnswerer(base, null, s);
    const x = await one.answer(image(), 'Describe.', 'item-7');
    await one.answer(image(), 'Describe.', 'item-8');
    const y = await one.answer(image(), 'Describe.', 'item-7');
    expect(y).toBe(x);
    one.dispose();
  }, 60_000);

  it('refuses bad settings with the reason', async () => {
    await expect(openAnswerer(base, null, { maxTokens: 0, temperature: 0, seed: 0 })).rejects.toThrow('Expected maxTokens to be a positive integer, but got 0');
    await expect(openAnswerer(base, join(dir, 'nope'), { maxTokens: 2, temperature: 0, seed: 0 })).rejects.toThrow(/Cannot load the PEFT adapter in/);
  }, 60_000);
});

describe('openAnswerer on the shipped built-in base (this project\'s format)', () => {
  it('describes a world scene greedily, the same twice, in the world\'s grammar', async () => {
    const { scenePng } = await import('../world/render');
    const { evalScenes } = await import('../world/splits');
    const scene = evalScenes(0, 1, { imageSize: 32 })[0]!;
    await writeFile(join(dir, 'scene.png'), await scenePng(scene));
    const ans = await openAnswerer(join(process.cwd(), 'resources', 'base-model'), null, { maxTokens: 24, temperature: 0, seed: 0 });
    expect(ans.family).toBe('builtin');
    const ref = { kind: 'file' as const, path: join(dir, 'scene.png'), relPath: 'scene.png' };
    const a = await ans.answer(ref, 'Describe the image.', 's0');
    expect(await ans.answer(ref, 'Describe the image.', 's1')).toBe(a);
    expect(a).toMatch(/\b(red|orange|yellow|green|blue|purple) (circle|square|triangle|cross|ring|bar)s?\b/);
    ans.dispose();
  }, 60_000);
});
