/**
 * src/shared's TrainConfig (what a run stores and the UI edits) -> the loop's LoopConfig.
 * The trainer process calls this; everything else of TrainConfig (dataset, base model,
 * LoRA shape, negative strategy, backend) is for whoever builds the model and the source.
 */
import type { TrainConfig } from '../../shared/schemas';
import { objectiveConfig } from '../objective/variants';
import type { LoopConfig } from './config';
import { resolveLoopConfig } from './config';

export interface SharedConfigContext {
  /** Where this run's checkpoints go (null = none). */
  checkpointDir: string | null;
  /** Used when TrainConfig.learningRate is null: the base model's documented default. */
  defaultLearningRate: number;
}

export function loopConfigFromShared(tc: TrainConfig, ctx: SharedConfigContext): LoopConfig {
  return resolveLoopConfig({
    objective: objectiveConfig(tc.variant, { beta: tc.beta, delta: tc.delta, terms: tc.weights, anchor: tc.anchor }),
    learningRate: tc.learningRate ?? ctx.defaultLearningRate,
    schedule: tc.schedule,
    warmupRatio: tc.warmupRatio,
    epochs: tc.epochs,
    batchSize: tc.batchSize,
    gradAccum: tc.gradAccum,
    maxGradNorm: tc.maxGradNorm,
    weightDecay: tc.weightDecay,
    adamBeta2: tc.adamBeta2,
    seed: tc.seed,
    negativeFixedPerPair: tc.negative.fixedPerPair,
    maxSteps: tc.maxSteps,
    checkpointDir: ctx.checkpointDir,
    checkpointEvery: tc.checkpointEvery,
  });
}
