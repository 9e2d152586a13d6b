/**
 * The real training engine, run inside the trainer process: builds the model and the data
 * source a run's TrainConfig asks for and drives src/core/train's loop, translating its hooks
 * to the trainer protocol. The base is the built-in world's checkpoint, a folder in this
 * project's format, or a local Hugging Face folder of a family src/core/hf trains (see
 * ./base-load.ts). At the end the adapters are saved in PEFT's layout (<runDir>/adapter) for
 * `mdpo runs export --what adapter`, evaluate / ask (own formats) and answer jobs (all).
 */
import { join } from 'node:path';
import { initBackend, type BackendName } from '../../core/backend';
import { ImageCache } from '../../core/data/image-cache';
import type { NegativeStrategy } from '../../core/data/negatives';
import { splitHeldOut } from '../../core/data/holdout';
import { readRecordsFile } from '../../core/data/records-file';
import { createPreferenceSource } from '../../core/data/source';
import type { PreferenceRecord } from '../../core/data/types';
import { LORA_TARGETS_ALL, preferenceLora } from '../../core/model/lora';
import { Rng } from '../../core/rng';
import { loopConfigFromShared } from '../../core/train/from-shared';
import { tokenizerFingerprint } from '../../core/train/fingerprint';
import { trainPreference } from '../../core/train/loop';
import { pinBaseModel } from './base-model';
import { loadBase } from './base-load';
import type { TrainConfig } from '../../shared/schemas';
import { CancelledError, type Engine } from './protocol';

export { BUILTIN_DEFAULT_LR, REAL_MODEL_DEFAULT_LR } from './base-load';
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
  const lora = preferenceLora({
    rank: config.lora.rank,
    alpha: config.lora.alpha,
    dropout: config.lora.dropout,
    targetModules: config.lora.targets.length ? config.lora.targets : [...LORA_TARGETS_ALL],
  });
  const base = await loadBase(dir, config, lora.config, backend.name);
  const model = base.model;
  for (const note of base.notes) hooks.log(note);

  // Read in chunks: a records file of a million pairs is over V8's longest string.
  const all: PreferenceRecord[] = await readRecordsFile(job.dataset.recordsFile);
  // Held-out records (config.holdOut, seeded) are for evaluation only: never trained on.
  const { train: records, heldOut } = splitHeldOut(all, config.holdOut ?? 0, config.seed);
  if (heldOut.length > 0) hooks.log(`held out ${heldOut.length} record(s) for evaluation: ${heldOut.map((r) => r.id).join(', ')}`);
  const source = await createPreferenceSource(records, {
    ...base.sourceOptions,
    strategy: negativeStrategy(config),
    cache: new ImageCache(join(job.home, 'cache', 'images')),
  });
  if (source.size === 0) throw new Error('None of the dataset\'s records could be prepared for training (see the import report).');
  for (const s of source.skipped) hooks.log(`skipped record ${s.index} (${s.id}): ${s.message}`);

  // LoRA on the language model's linears (HF: never the vision tower or the connector), dropout 0.
  if (lora.note) hooks.log(lora.note);
  model.addLora(lora.config, Rng.derive(config.seed, 'lora/init'));

  const loopConfig = loopConfigFromShared(config, {
    checkpointDir: join(job.runDir, 'checkpoints'),
    defaultLearningRate: base.defaultLearningRate,
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
  await base.saveAdapter(join(job.runDir, 'adapter'), { runId: job.runId, step: result.step });
  return { step: result.step, result: result.metrics ?? {} };
};
