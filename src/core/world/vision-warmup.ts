/**
 * Stage 1 of the base model: warm up the vision tower and connector on patch labels, the way
 * real VLMs start from a pretrained vision encoder (CLIP, SigLIP) instead of a random one.
 *
 * Why it exists: trained from scratch by SFT alone, the small model learns the caption prior
 * first and reads the image only after thousands of steps (measured: 200 SFT steps, 12,800
 * examples, and a caption's log-prob moved by < 0.25 nats when the image was swapped). A
 * linear head on the connector output that must name the object under each patch (or none)
 * makes image features informative in a few hundred cheap steps; the head is then discarded
 * and SFT trains the whole model as before.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Vlm } from '../model/model';
import { Rng } from '../rng';
import { pixelBatch } from '../train/pixels';
import { ALL_OBJECT_KEYS, objectKey } from './objects';
import { sceneImage, shapeCovers } from './render';
import { generateScenes, type Scene } from './scene';

/** Per patch (row-major), the index in ALL_OBJECT_KEYS of the object covering most of it, or 36 for none. */
export function patchLabels(scene: Scene, patchSize: number): number[] {
  const n = scene.imageSize;
  const owner = new Int16Array(n * n).fill(-1);
  for (const o of scene.objects) {
    const id = ALL_OBJECT_KEYS.indexOf(objectKey(o));
    for (let py = 0; py < o.h; py++) for (let px = 0; px < o.w; px++) if (shapeCovers(o.shape, px, py, o.w, o.h)) owner[(o.y + py) * n + o.x + px] = id;
  }
  const side = n / patchSize;
  const none = ALL_OBJECT_KEYS.length;
  // A patch belongs to an object when at least 1/8 of its pixels do: thin bars still count.
  const minPixels = Math.max(1, Math.floor((patchSize * patchSize) / 8));
  const labels: number[] = [];
  for (let gy = 0; gy < side; gy++) {
    for (let gx = 0; gx < side; gx++) {
      const counts = new Map<number, number>();
      for (let y = 0; y < patchSize; y++) {
        for (let x = 0; x < patchSize; x++) {
          const id = owner[(gy * patchSize + y) * n + gx * patchSize + x];
          if (id >= 0) counts.set(id, (counts.get(id) ?? 0) + 1);
        }
      }
      let best = none;
      let bestCount = minPixels - 1;
      for (const [id, c] of counts) if (c > bestCount) [best, bestCount] = [id, c];
      labels.push(best);
    }
  }
  return labels;
}

export interface VisionWarmupOptions {
  seed: number;
  steps: number;
  batchSize?: number;
  learningRate?: number;
  onStep?: (step: number, loss: number, accuracy: number) => void;
  /**
   * Named sets of held-out scenes (e.g. singleObjectScenes) on which to read the trained head
   * out per object before it is thrown away (objectReadout): one vision forward pass per set.
   */
  probes?: Record<string, readonly Scene[]>;
}

/** The vision side's own per-object accuracy: what a linear read-out of the image tokens can name. */
export interface ObjectReadout {
  objects: number;
  colorAccuracy: number;
  shapeAccuracy: number;
  objectAccuracy: number;
}

/**
 * Per object of `scenes`: the head's logits over the 36 objects (not "none"), summed over the
 * patches patchLabels gives that object; right when the argmax is the object (its color, its
 * shape). Objects no patch is labelled with count as wrong. logits: [scenes * patches, 37].
 */
export function objectReadout(scenes: readonly Scene[], patchSize: number, logits: Float32Array): ObjectReadout {
  const classes = ALL_OBJECT_KEYS.length + 1;
  let [objects, color, shape, both] = [0, 0, 0, 0];
  let row = 0;
  for (const scene of scenes) {
    const labels = patchLabels(scene, patchSize);
    for (const o of scene.objects) {
      const id = ALL_OBJECT_KEYS.indexOf(objectKey(o));
      const sum = new Float64Array(ALL_OBJECT_KEYS.length);
      let seen = false;
      labels.forEach((l, p) => {
        if (l !== id) return;
        seen = true;
        for (let k = 0; k < sum.length; k++) sum[k] += logits[(row + p) * classes + k];
      });
      objects++;
      if (!seen) continue;
      const best = sum.indexOf(Math.max(...sum));
      const [bc, bs] = ALL_OBJECT_KEYS[best].split(' ');
      color += Number(bc === o.color);
      shape += Number(bs === o.shape);
      both += Number(best === id);
    }
    row += labels.length;
  }
  return { objects, colorAccuracy: color / objects, shapeAccuracy: shape / objects, objectAccuracy: both / objects };
}

/** Trains vision tower + connector (+ a throwaway head) on patch labels; returns the last loss and patch accuracy. */
export async function warmUpVision(model: Vlm, o: VisionWarmupOptions): Promise<{ loss: number; accuracy: number; readouts?: Record<string, ObjectReadout> }> {
  const c = model.config;
  const P = c.vision.patchSize;
  const S = c.vision.imageSize;
  if (c.connector.type !== 'mlp2x_gelu') throw new Error(`Expected the mlp2x_gelu connector (one feature per patch), but got ${c.connector.type}`);
  const classes = ALL_OBJECT_KEYS.length + 1;
  const batch = o.batchSize ?? 64;
  const vars = model.params.entries().filter(([name]) => name.startsWith('vision_tower.') || name.startsWith('multi_modal_projector.')).map(([, v]) => v);
  const rng = Rng.derive(o.seed, 'world/base/vision-head');
  const D = c.text.hiddenSize;
  // tf.variable keeps its initial tensor alive: make them inside tidy so only the variables remain.
  const [headW, headB] = tf.tidy(() => [
    tf.variable(tf.tensor2d(Float32Array.from({ length: D * classes }, () => rng.normal() / Math.sqrt(D)), [D, classes])),
    tf.variable(tf.zeros([classes])),
  ]);
  const optimizer = tf.train.adam(o.learningRate ?? 3e-3);
  let last: { loss: number; accuracy: number; readouts?: Record<string, ObjectReadout> } = { loss: NaN, accuracy: NaN };
  try {
    for (let step = 0; step < o.steps; step++) {
      const scenes = generateScenes(o.seed, 'vision', batch, { imageSize: S }, step * batch);
      const labels = scenes.flatMap((s) => patchLabels(s, P));
      const pixels = pixelBatch(model, scenes.map(sceneImage), [S, S]); // [B, S, S, 3]
      const target = tf.tidy(() => tf.oneHot(tf.tensor1d(labels, 'int32'), classes)); // [B*N, C]
      let logitsKept: tf.Tensor | null = null;
      const loss = optimizer.minimize(() => {
        const feats = model.encodeImages(pixels); // [B, N, D]
        const logits = tf.add(tf.matMul(tf.reshape(feats, [-1, D]), headW), headB); // [B*N, C]
        logitsKept = tf.keep(logits);
        return tf.losses.softmaxCrossEntropy(target, logits) as tf.Scalar;
      }, true, [...vars, headW, headB]);
      const hits = tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(logitsKept!, 1), tf.tensor1d(labels, 'int32')), 'float32')));
      last = { loss: (await loss!.data())[0], accuracy: (await hits.data())[0] };
      tf.dispose([pixels, target, loss!, logitsKept!, hits]);
      o.onStep?.(step + 1, last.loss, last.accuracy);
    }
    for (const [name, scenes] of Object.entries(o.probes ?? {})) {
      if (scenes.length === 0) continue;
      const pixels = pixelBatch(model, scenes.map(sceneImage), [S, S]); // [B, S, S, 3]
      const logits = tf.tidy(() => tf.add(tf.matMul(tf.reshape(model.encodeImages(pixels), [-1, D]), headW), headB)); // [B*N, C]
      (last.readouts ??= {})[name] = objectReadout(scenes, P, (await logits.data()) as Float32Array);
      tf.dispose([pixels, logits]);
    }
  } finally {
    optimizer.dispose();
    tf.dispose([headW, headB]);
  }
  return last;
}
