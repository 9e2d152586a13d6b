/**
 * The real training engine, run inside the trainer process: builds the model and the data
 * source a run's TrainConfig asks for and drives src/core/train's loop, translating its hooks
 * to the trainer protocol. At the end the adapters are also saved in PEFT's layout
 * (<runDir>/adapter) for `mdpo runs export --what adapter`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../../core/backend';
import { ImageCache } from '../../core/data/image-cache';
import type { NegativeStrategy } from '../../core/data/negatives';
import { splitHeldOut } from '../../core/data/holdout';
import { createPreferenceSource } from '../../core/data/source';
import type { PreferenceRecord } from '../../core/data/types';
import { loadCheckpoint, saveAdapter } from '../../core/model/checkpoint';
import { LORA_TARGETS_ALL, preferenceLora } from '../../core/model/lora';
import { Rng } from '../../core/rng';
import { loopConfigFromShared } from '../../core/train/from-shared';
import { tokenizerFingerprint } from '../../core/train/fingerprint';
import { trainPreference } from '../../core/train/loop';
import { pinBaseModel } from './base-model';
import type { TrainConfig } from '../../shared/schemas';
import { CancelledError, type Engine } from './protocol';

/**
 * Peak learning rate when the config leaves it null: the paper's 1e-5 (docs/objective.md#defaults) for real models; the
 * built-in ~0.4M-parameter model needs a far larger one for LoRA to move in a few hundred steps.
 */
export const BUILTIN_DEFAULT_LR = 1e-3;
export const REAL_MODEL_DEFAULT_LR = 1e-5;

export { baseModelDir } from './base-model';

function negativeStrategy(config: TrainConfig): NegativeStrategy {
  const n = config.negative;
  if (n.strategy === 'crop') return { kind: 'crop', minArea: n.cropMin, maxArea: n.cropMax };
  if (n.strategy === 'augment') return { kind: 'augment' };
  return { kind: 'random-image' };
}

export const engine: Engine = async (job, hooks) => {
  const config = job.config;
  const backend = await initBackend(config.backend as BackendName | 'auto');
  if (!job.dataset) throw new Error(`Run ${job.runId} has no dataset (it was deleted); nothing to train on.`);

  const { dir, pinnedNow } = await pinBaseModel(job);
  if (pinnedNow) hooks.log(`copied the built-in base model into the run (${dir}): resumes after an app upgrade keep these weights`);
  const { model, tokenizer } = await loadCheckpoint(dir).catch((error: Error) => {
    throw new Error(`Cannot load the base model from ${dir}: ${error.message}`, { cause: error });
  });
  if (!tokenizer) throw new Error(`The base model ${dir} has no tokenizer.json.`);

  const all = JSON.parse(await readFile(job.dataset.recordsFile, 'utf8')) as PreferenceRecord[];
  // Held-out records (config.holdOut, seeded) are for evaluation only: never trained on.
  const { train: records, heldOut } = splitHeldOut(all, config.holdOut ?? 0, config.seed);
  if (heldOut.length > 0) hooks.log(`held out ${heldOut.length} record(s) for evaluation: ${heldOut.map((r) => r.id).join(', ')}`);
  const imageSize = model.config.vision.imageSize;
  const source = await createPreferenceSource(records, {
    tokenizer,
    endTokenId: tokenizer.specials.eos,
    preprocess: { size: [imageSize, imageSize] },
    strategy: negativeStrategy(config),
    cache: new ImageCache(join(job.home, 'cache', 'images')),
  });
  if (source.size === 0) throw new Error('None of the dataset\'s records could be prepared for training (see the import report).');
  for (const s of source.skipped) hooks.log(`skipped record ${s.index} (${s.id}): ${s.message}`);

  const lora = preferenceLora({
    rank: config.lora.rank,
    alpha: config.lora.alpha,
    dropout: config.lora.dropout,
    targetModules: config.lora.targets.length ? config.lora.targets : [...LORA_TARGETS_ALL],
  });
  if (lora.note) hooks.log(lora.note);
  model.addLora(lora.config, Rng.derive(config.seed, 'lora/init'));

  const loopConfig = loopConfigFromShared(config, {
    checkpointDir: join(job.runDir, 'checkpoints'),
    defaultLearningRate: model.config.family === 'builtin' ? BUILTIN_DEFAULT_LR : REAL_MODEL_DEFAULT_LR,
  });
  const result = await trainPreference(model, source, loopConfig, {
    onStart: (e) => {
      for (const note of e.notes) hooks.log(`resume: ${note}`);
      hooks.started({ totalSteps: e.totalSteps, backend: `${backend.name} (${backend.device})`, startStep: e.startStep });
    },
    beforeStep: (step) => hooks.waitIfPaused(step),
    onStep: (e) =>
      hooks.step({
        step: e.step,
        totalSteps: e.totalSteps,
        epoch: e.epoch,
        metrics: e.metrics,
        pairs: 0,
        tokens: 0,
        pairsPerSec: e.pairsPerSec,
        tokensPerSec: e.tokensPerSec,
      }),
    onCheckpoint: (e) => hooks.checkpoint(e.step, e.path),
    signal: hooks.signal,
    resumeFrom: job.resumeFrom?.path,
    inputs: { tokenizer: await tokenizerFingerprint(dir) },
  });
  if (result.status === 'aborted') throw new CancelledError('Cancelled by the user.');
  await saveAdapter(join(job.runDir, 'adapter'), model, { mdpo_studio_run: job.runId, step: result.step });
  return { step: result.step, result: result.metrics ?? {} };
};
