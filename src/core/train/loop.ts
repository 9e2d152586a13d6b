/**
 * The training loop (nanoGPT style: read it top to bottom).
 *
 *   for each optimizer step:
 *     await beforeStep (pause) / stop on abort (checkpoint first)
 *     take the next batchSize * gradAccum examples of this epoch's seeded order
 *     for each micro-batch: loss and gradients (tf.variableGrads), summed
 *     stop on NaN/Inf in the loss or the gradients (the last checkpoint stays the last good one)
 *     grad_norm (before clipping) -> clip -> AdamW with the scheduled learning rate
 *     report metrics; checkpoint every `checkpointEvery` steps and at the end
 *
 * Everything random is a pure function of the seed: the order of epoch e comes from
 * Rng.derive(seed, 'order/e'), m' from (seed, pair id[, epoch]), dropout from the loop's
 * Rng whose state is checkpointed. So a resumed run repeats the uninterrupted one exactly.
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import type { LoopConfig } from './config';
import { incompatibleChanges, resolveLoopConfig } from './config';
import type { TrainState } from './checkpoint';
import { CheckpointError, STATE_FORMAT, STATE_VERSION, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { compareInputs } from './fingerprint';
import { GradAccumulator, clipByGlobalNorm, firstNonFinite, globalNorm } from './gradients';
import { AdamW } from './optimizer';
import { PreferenceTask, checkPreferenceSource } from './preference-task';
import { learningRateAt } from './schedule';
import { SftTask, checkSftSource } from './sft-task';
import type { Task } from './task';
import type { LoopHooks, PreferenceSource, SftSource, TrainResult, TrainableModel } from './types';

/** NaN or Inf in the loss or a gradient. The run stopped before applying the step. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
  constructor(
    /** The optimizer step (1-based) that produced it. */
    readonly step: number,
    /** 'loss' or 'gradient of <variable>'. */
    readonly quantity: string,
    readonly value: number,
    /** The last good checkpoint, kept as it was. */
    readonly lastCheckpoint: string | null,
  ) {
    super(
      `Training diverged at step ${step}: ${quantity} is ${value}. ` +
        (lastCheckpoint ? `The last good checkpoint is ${lastCheckpoint}.` : 'No checkpoint was written before it.') +
        ' Try a lower learning rate or a smaller beta.',
    );
  }
}

/** mDPO / DPO preference training of the model's LoRA adapters. */
export async function trainPreference(
  model: TrainableModel,
  source: PreferenceSource,
  config: Partial<LoopConfig> = {},
  hooks: LoopHooks = {},
): Promise<TrainResult> {
  const cfg = resolveLoopConfig(config);
  checkPreferenceSource(source);
  // The reference is the base with adapters off: without adapters it would move with training.
  if ('lora' in model && (model as { lora: unknown }).lora == null) {
    throw new Error('Preference training needs LoRA adapters (the reference model is the base with adapters off); call model.addLora first');
  }
  return runLoop(model, new PreferenceTask(model, source, cfg), cfg, hooks);
}

/** Supervised fine-tuning of whatever the model marks trainable (all weights, or adapters). */
export async function trainSft(
  model: TrainableModel,
  source: SftSource,
  config: Partial<LoopConfig> = {},
  hooks: LoopHooks = {},
): Promise<TrainResult> {
  const cfg = resolveLoopConfig(config);
  checkSftSource(source);
  return runLoop(model, new SftTask(model, source), cfg, hooks);
}

/** Optimizer steps of a run: epochs x ceil(size / (batchSize * gradAccum)), or maxSteps. */
export function totalStepsFor(size: number, cfg: LoopConfig): number {
  return cfg.maxSteps ?? cfg.epochs * Math.ceil(size / (cfg.batchSize * cfg.gradAccum));
}

/** The order of epoch e: a pure function of (seed, e). */
export function epochOrder(size: number, epoch: number, cfg: LoopConfig): number[] {
  const order = Array.from({ length: size }, (_, i) => i);
  return cfg.shuffle ? Rng.derive(cfg.seed, `order/${epoch}`).shuffle(order) : order;
}

/** A variable's name that survives a restart (tfjs names carry a per-instance prefix). */
export function stableName(model: TrainableModel, v: tf.Variable): string {
  return model.nameOf ? model.nameOf(v) : v.name.replace(/^[^/]*\//, '');
}

async function runLoop(model: TrainableModel, task: Task, cfg: LoopConfig, hooks: LoopHooks): Promise<TrainResult> {
  const vars = model.trainableVariables();
  const names = vars.map((v) => stableName(model, v));
  // Fingerprints of the inputs (base weights, tokenizer, dataset, m'), before anything else:
  // they go into every checkpoint and a resume must match them.
  const inputs = await task.prepare(hooks.inputs ?? {});
  let notes: string[] = [];
  const perStep = cfg.batchSize * cfg.gradAccum;
  const totalSteps = totalStepsFor(task.size, cfg);
  const schedule = { lr: cfg.learningRate, schedule: cfg.schedule, warmupRatio: cfg.warmupRatio, totalSteps };
  const optimizer = new AdamW(vars, { beta1: cfg.adamBeta1, beta2: cfg.adamBeta2, eps: cfg.adamEps, weightDecay: cfg.weightDecay });
  const rng = Rng.derive(cfg.seed, 'train/loop');
  let step = 0; // optimizer steps done
  let epoch = 0; // epoch of the next example
  let position = 0; // index of the next example in that epoch's order
  let metrics: Record<string, number> | null = null;
  let lastCheckpoint: string | null = null;
  let savedAtStep = -1;

  const save = async (): Promise<void> => {
    if (!cfg.checkpointDir || savedAtStep === step) return;
    const state: TrainState = {
      format: STATE_FORMAT, version: STATE_VERSION, kind: task.kind, step, epoch, position,
      rng: rng.state(), config: cfg, variableNames: names, inputs, refCache: task.exportCache(), metrics,
      savedAt: new Date().toISOString(),
    };
    const values = await Promise.all(vars.map(async (v) => ((await v.data()) as Float32Array).slice()));
    const weights = Object.fromEntries(vars.map((v, i) => [names[i], { shape: v.shape, data: values[i] }]));
    const optimizerState = await optimizer.exportState();
    lastCheckpoint = await saveCheckpoint(cfg.checkpointDir, { state, weights, optimizer: optimizerState }, cfg.keepCheckpoints);
    savedAtStep = step;
    hooks.onCheckpoint?.({ step, path: lastCheckpoint });
  };

  try {
    if (hooks.resumeFrom) {
      const ck = await loadCheckpoint(hooks.resumeFrom);
      if (ck.state.kind !== task.kind) throw new CheckpointError(`${hooks.resumeFrom} is a ${ck.state.kind} checkpoint, not ${task.kind}`);
      const changed = incompatibleChanges(ck.state.config as LoopConfig, cfg);
      if (changed.length > 0) throw new CheckpointError(`Cannot resume: the config differs from the checkpoint's in ${changed.join(', ')}`);
      if (inputs) {
        const { changed, notes: safe } = compareInputs(ck.state.inputs, inputs);
        if (changed.length > 0) {
          throw new CheckpointError(
            `Cannot resume from ${hooks.resumeFrom}: what it was trained on changed since the checkpoint: ${changed.join('; ')}. ` +
              'Its reference log-probs and progress belong to the old inputs: restore them, or start a new run.',
          );
        }
        notes = safe;
      }
      if (JSON.stringify(ck.state.variableNames) !== JSON.stringify(names)) {
        throw new CheckpointError(`Cannot resume: the checkpoint's trainable variables differ from the model's (${ck.state.variableNames.length} vs ${names.length})`);
      }
      tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(ck.weights[names[i]].data, v.shape, 'float32'))));
      optimizer.importState(ck.optimizer);
      rng.setState(ck.state.rng);
      task.importCache(ck.state.refCache);
      ({ step, epoch, position } = ck.state);
      metrics = ck.state.metrics;
      savedAtStep = step;
    }

    hooks.onStart?.({ totalSteps, startStep: step, size: task.size, notes });
    let order = epochOrder(task.size, epoch, cfg);
    const sessionStart = performance.now();
    const sessionFirstStep = step;
    while (step < totalSteps) {
      await hooks.beforeStep?.(step);
      if (hooks.signal?.aborted) {
        await save();
        return { status: 'aborted', step, totalSteps, metrics, checkpoint: lastCheckpoint };
      }
      if (position >= task.size) {
        epoch += 1;
        position = 0;
        order = epochOrder(task.size, epoch, cfg);
      }
      const t0 = performance.now();
      const indices = order.slice(position, position + perStep);

      // Forward + backward over the micro-batches; gradients summed (each loss is its share).
      task.beginStep(indices);
      const acc = new GradAccumulator();
      let loss = 0;
      let tokens = 0;
      try {
        for (let k = 0; k < indices.length; k += cfg.batchSize) {
          const mb = await task.microBatch(indices.slice(k, k + cfg.batchSize), epoch, rng);
          try {
            const { value, grads } = tf.variableGrads(() => mb.loss(), vars);
            acc.add(vars.map((v) => grads[v.name]));
            loss += (await value.data())[0];
            value.dispose();
            await mb.finish();
            tokens += mb.tokens;
          } finally {
            mb.dispose();
          }
        }
      } catch (err) {
        acc.dispose();
        throw err;
      }
      let grads = acc.take();
      try {
        if (!Number.isFinite(loss)) throw new TrainingDivergedError(step + 1, 'loss', loss, lastCheckpoint);
        const gradNorm = await globalNorm(grads);
        if (!Number.isFinite(gradNorm)) {
          const bad = await firstNonFinite(grads);
          throw new TrainingDivergedError(step + 1, `gradient of ${names[bad] ?? 'a variable'}`, gradNorm, lastCheckpoint);
        }
        if (cfg.maxGradNorm > 0) grads = clipByGlobalNorm(grads, gradNorm, cfg.maxGradNorm);
        const learningRate = learningRateAt(step, schedule);
        optimizer.apply(grads, learningRate);

        step += 1;
        position += indices.length;
        metrics = { ...task.stepMetrics(), grad_norm: gradNorm, learning_rate: learningRate };
        const now = performance.now();
        const seconds = (now - t0) / 1000;
        const msPerStep = (now - sessionStart) / (step - sessionFirstStep);
        hooks.onStep?.({
          step, totalSteps, epoch: epoch + position / task.size, metrics, learningRate, gradNorm,
          pairs: indices.length, tokens, pairsPerSec: indices.length / seconds, tokensPerSec: tokens / seconds,
          elapsedMs: now - sessionStart, etaMs: msPerStep * (totalSteps - step),
        });
      } finally {
        tf.dispose(grads);
      }
      if ((cfg.checkpointEvery > 0 && step % cfg.checkpointEvery === 0) || step === totalSteps) await save();
    }
    return { status: 'completed', step, totalSteps, metrics, checkpoint: lastCheckpoint };
  } finally {
    optimizer.dispose();
  }
}
