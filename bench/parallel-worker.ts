/**
 * One data-parallel worker of the --parallel experiment (bench/parallel.ts): its own tfjs
 * wasm instance and its own copy of the model (same seed, so the same weights), scoring
 * its share of the micro-batch. Gradients go to the main thread, which sums them; every
 * worker then applies the same clipped AdamW update, so the copies never drift apart.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../src/core/backend';
import { objectiveConfig, type VariantName } from '../src/core/objective/variants';
import { preferenceLoss } from '../src/core/objective/loss';
import { AdamW } from '../src/core/train/optimizer';
import { clipByGlobalNorm } from '../src/core/train/gradients';
import { pixelBatch } from '../src/core/train/pixels';
import { BenchSource, SIZES, type SizeName } from './setup';
import { buildModel } from './ours';

export interface WorkerInit {
  size: SizeName;
  variant: VariantName;
  loraRank: number;
  /** Pairs in the whole micro-batch, and this worker's slice of it. */
  batch: number;
  from: number;
  to: number;
}

export type ToWorker = { kind: 'grads' } | { kind: 'apply'; grads: Float32Array[]; norm: number } | { kind: 'stop' };
export type FromWorker =
  | { kind: 'ready' }
  | { kind: 'grads'; grads: Float32Array[]; loss: number }
  | { kind: 'applied' };

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  await initBackend('wasm');
  const config = SIZES[init.size];
  const model = buildModel({ config, loraRank: init.loraRank, seed: 1, loraBStd: 0 });
  const source = new BenchSource(config, init.batch);
  const objective = objectiveConfig(init.variant);
  const withImageless = objective.terms.conditional !== 0;
  const vars = model.trainableVariables();
  const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.98, eps: 1e-8, weightDecay: 0.05 });
  const idx = Array.from({ length: init.to - init.from }, (_, k) => init.from + k);
  const ex = idx.map((i) => source.example(i));
  const b = ex.length;
  const images = [...ex.map((e) => e.image), ...ex.map((e) => e.image), ...(withImageless ? idx.map((i) => source.negative(i)) : [])];
  const prompts = ex.map((e) => e.promptIds);
  const rowsPrompt = withImageless ? [...prompts, ...prompts, ...prompts] : [...prompts, ...prompts];
  const rowsAnswer = [...ex.map((e) => e.chosenIds), ...ex.map((e) => e.rejectedIds), ...(withImageless ? ex.map((e) => e.chosenIds) : [])];
  const score = (lora: boolean) => {
    const pixels = pixelBatch(model, images, source.imageShape);
    const out = model.sequenceLogProbs({ pixels, promptIds: rowsPrompt, answerIds: rowsAnswer }, { lora });
    pixels.dispose();
    return out;
  };
  // The reference, once (the app caches it per pair).
  const ref = tf.tidy(() => Array.from(score(false).dataSync()));
  const share = b / init.batch; // this slice's share of the micro-batch mean
  const port = parentPort!;
  port.postMessage({ kind: 'ready' } satisfies FromWorker);
  port.on('message', async (msg: ToWorker) => {
    if (msg.kind === 'stop') {
      opt.dispose();
      model.dispose();
      process.exit(0);
    }
    if (msg.kind === 'grads') {
      const { value, grads } = tf.variableGrads(() => {
        const p = score(true);
        const part = (k: number) => tf.slice(p, k * b, b) as tf.Tensor1D;
        const refT = (k: number) => tf.tensor1d(ref.slice(k * b, (k + 1) * b));
        const { loss } = preferenceLoss(
          {
            policyChosen: part(0), policyRejected: part(1), refChosen: refT(0), refRejected: refT(1),
            ...(withImageless ? { policyImageless: part(2), refImageless: refT(2) } : {}),
          },
          objective,
        );
        return tf.mul(loss, share) as tf.Scalar;
      }, vars);
      const loss = (await value.data())[0];
      value.dispose();
      const arrays = await Promise.all(vars.map(async (v) => (await grads[v.name].data()) as Float32Array));
      tf.dispose(Object.values(grads));
      port.postMessage({ kind: 'grads', grads: arrays, loss } satisfies FromWorker, arrays.map((a) => a.buffer as ArrayBuffer));
      return;
    }
    const g = msg.grads.map((a, i) => tf.tensor(a, vars[i].shape, 'float32'));
    const clipped = clipByGlobalNorm(g, msg.norm, 1);
    opt.apply(clipped, 1e-4);
    tf.dispose(clipped);
    port.postMessage({ kind: 'applied' } satisfies FromWorker);
  });
}

void main();
