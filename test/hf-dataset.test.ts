/**
 * An imported dataset (src/core/data) feeding a real-layout HF model: records -> the data
 * module's PreferenceSource with the HF processor's prompts/answers/geometry -> mDPO steps.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend';
import { createPreferenceSource } from '../src/core/data/source';
import type { PreferenceRecord } from '../src/core/data/types';
import { loadHfModel } from '../src/core/hf/load';
import { writeTinyHfFolder } from '../src/core/hf/testing/fixtures';
import { tempDir } from '../src/core/hf/testing/helpers';
import { objectiveConfig } from '../src/core/objective/variants';
import { Rng } from '../src/core/rng';
import { trainPreference } from '../src/core/train/loop';

let tmp: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  await initBackend('wasm');
  tmp = await tempDir('dataset');
});
afterAll(async () => tmp.cleanup());

it('dataset records train a tiny SmolVLM and a tiny LLaVA through createPreferenceSource', async () => {
  const images = join(tmp.dir, 'images');
  await mkdir(images);
  const records: PreferenceRecord[] = [];
  for (let i = 0; i < 4; i++) {
    const rel = `img${i}.png`;
    await sharp({ create: { width: 40 + 8 * i, height: 30, channels: 3, background: { r: 60 * i, g: 200 - 40 * i, b: 90 } } }).png().toFile(join(images, rel));
    records.push({
      index: i, id: `r${i}`, image: { kind: 'file', path: join(images, rel), relPath: rel },
      prompt: 'what is this?', chosen: i % 2 ? 'a cat.' : 'the cat', rejected: 'is there', source: { file: 'data.jsonl', index: i, line: i + 1 },
    });
  }
  for (const kind of ['smolvlm', 'llava-llama'] as const) {
    const { model, processor } = await loadHfModel((await writeTinyHfFolder(join(tmp.dir, kind), kind)).dir, { skipMemoryCheck: true });
    const source = await createPreferenceSource(records, { ...processor.sourceOptions(), inMemory: true });
    expect(source.skipped).toEqual([]);
    expect(source.imageShape).toEqual(processor.imageShape);
    const ex = source.example(1);
    expect(ex.promptIds).toEqual(processor.promptIds('what is this?'));
    expect(ex.chosenIds).toEqual(processor.answerIds('a cat.'));
    model.addLora({ rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj'] }, new Rng(1));
    const losses: number[] = [];
    const r = await trainPreference(model, source, { objective: objectiveConfig('mdpo'), batchSize: 2, gradAccum: 1, maxSteps: 2, learningRate: 1e-2, warmupRatio: 0 }, {
      onStep: (e) => losses.push(e.metrics.loss),
    });
    expect(r.status).toBe('completed');
    expect(losses.every(Number.isFinite)).toBe(true);
    model.dispose();
  }
  expect(tf.memory().numTensors).toBeLessThan(50);
});
