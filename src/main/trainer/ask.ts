/**
 * One question about one image to a run's model (base + the run's adapters), in the trainer
 * process. The base is the run's (the pinned built-in copy, an own-format folder or a Hugging
 * Face folder); src/core/eval/probe-answer.ts reads each with its adapter layout (saveAdapter's,
 * or PEFT's for HF folders) and answers greedily; other HF families (a torch run's Qwen2-VL, ...)
 * go to the Python answerer (./answers.ts).
 */
import { join } from 'node:path';
import { openJobAnswerer } from './answers';
import { runBaseModelDir } from './base-model';
import type { Engine } from './protocol';

export const askEngine: Engine = async (job, hooks) => {
  if (job.task?.kind !== 'ask') throw new Error('askEngine needs an ask task');
  const { image, question, maxTokens } = job.task;
  const answerer = await openJobAnswerer(job, await runBaseModelDir(job), join(job.runDir, 'adapter'), { maxTokens, temperature: 0, seed: 0 });
  try {
    hooks.answer(await answerer.answer(image, question, 'ask'));
  } finally {
    answerer.dispose();
  }
  return { step: 0, result: {} };
};
