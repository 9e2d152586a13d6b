/**
 * Supervised fine-tuning as a loop task (the built-in world's base model): the loss is the
 * mean NLL per answer token over the whole optimizer step, so gradient accumulation gives
 * the same gradient as one big batch. Dropout (if the model has any) draws from the loop's Rng.
 */
import * as tf from '@tensorflow/tfjs-core';
import { sftValues } from '../objective/sft';
import type { Rng } from '../rng';
import { pixelBatch, tokenCount } from './pixels';
import type { MicroBatch, Task } from './task';
import type { SftSource, TrainableModel } from './types';

export class SftTask implements Task {
  readonly kind = 'sft' as const;
  private logps: number[] = [];
  private lengths: number[] = [];
  private stepTokens = 0;

  constructor(
    private readonly model: TrainableModel,
    private readonly source: SftSource,
  ) {}

  get size(): number {
    return this.source.size;
  }

  beginStep(indices: number[]): void {
    this.logps = [];
    this.lengths = [];
    this.stepTokens = indices.reduce((s, i) => s + this.source.example(i).answerIds.length, 0);
  }

  async microBatch(indices: number[], _epoch: number, rng: Rng): Promise<MicroBatch> {
    const examples = indices.map((i) => this.source.example(i));
    const withImage = examples.filter((e) => e.image !== null).length;
    if (withImage !== 0 && withImage !== examples.length) {
      throw new Error(`A batch mixes examples with and without an image (${withImage} of ${examples.length} have one); keep them in separate sources`);
    }
    let kept: tf.Tensor1D | null = null;
    return {
      tokens: examples.reduce((s, e) => s + tokenCount(e.promptIds, e.answerIds), 0),
      loss: () => {
        const pixels = withImage ? pixelBatch(this.model, examples.map((e) => e.image!), this.source.imageShape) : null;
        const logps = this.model.sequenceLogProbs(
          { pixels, promptIds: examples.map((e) => e.promptIds), answerIds: examples.map((e) => e.answerIds) },
          { lora: true, dropoutRng: rng },
        ); // [b]
        kept?.dispose();
        kept = tf.keep(logps);
        return tf.div(tf.neg(tf.sum(logps)), this.stepTokens) as tf.Scalar; // share of the step's token mean
      },
      finish: async () => {
        const values = await kept!.data();
        examples.forEach((e, k) => {
          this.logps.push(values[k]);
          this.lengths.push(e.answerIds.length);
        });
      },
      dispose: () => {
        kept?.dispose();
        kept = null;
      },
    };
  }

  stepMetrics(): Record<string, number> {
    return sftValues(this.logps, this.lengths).metrics;
  }

  async prepare(): Promise<null> {
    return null;
  }

  exportCache(): null {
    return null;
  }

  importCache(): void {}
}

export function checkSftSource(source: SftSource): void {
  if (!Number.isInteger(source.size) || source.size <= 0) {
    throw new Error(`Expected the SFT source to hold at least one example, but got size ${source.size}`);
  }
  const e = source.example(0);
  if (!Array.isArray(e.answerIds) || e.answerIds.length === 0) {
    throw new Error('Expected non-empty answers (they include the end token), but example(0) has an empty one');
  }
}
