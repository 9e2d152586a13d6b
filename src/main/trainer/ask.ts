/** One question about one image to a run's model (base + the run's adapters), in the trainer process. */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../../core/backend';
import { loadRgb, toUnit } from '../../core/data/preprocess';
import { loadAdapter, loadCheckpoint } from '../../core/model/checkpoint';
import { generate } from '../../core/model/generation';
import { pixelBatch } from '../../core/train/pixels';
import { runBaseModelDir } from './base-model';
import type { Engine } from './protocol';

export const askEngine: Engine = async (job, hooks) => {
  if (job.task?.kind !== 'ask') throw new Error('askEngine needs an ask task');
  const { image, question, maxTokens } = job.task;
  await initBackend(job.config.backend as BackendName | 'auto');
  const { model, tokenizer } = await loadCheckpoint(await runBaseModelDir(job));
  if (!tokenizer) throw new Error('The base model has no tokenizer.json.');
  await loadAdapter(join(job.runDir, 'adapter'), model);
  const size = model.config.vision.imageSize;
  const pixels = pixelBatch(model, [toUnit(await loadRgb(image, { size: [size, size] }))], [size, size]); // [1, H, W, 3]
  try {
    const out = await generate(model, { pixels, promptIds: [tokenizer.encode(question)] }, { maxNewTokens: maxTokens, temperature: 0, lora: true });
    hooks.answer(tokenizer.decode(out.tokens[0]!));
  } finally {
    tf.dispose(pixels);
  }
  return { step: 0, result: {} };
};
