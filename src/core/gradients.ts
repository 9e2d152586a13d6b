/**
 * The one place where the project fills gaps in tfjs 4.22 (docs/architecture.md#gaps-in-tfjs-filled-in-one-place).
 *
 * - GatherV2's gradient scatters with UnsortedSegmentSum, which the wasm backend lacks.
 *   We register a plain kernel for it on wasm (and any backend that lacks one), so
 *   embedding tables train on every backend.
 * - logSigmoid's gradient crashes on intermediate tensors: the objective uses
 *   softplus(-x) instead (nothing to register).
 * - GatherNd and StridedSlice have no gradient: the model does not use them on a
 *   differentiable path (token log-probs are read with a one-hot product, patches are
 *   cut with reshape/transpose).
 */
import * as tf from '@tensorflow/tfjs-core';

interface SyncBackend {
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  /** wasm's allocator: copies `values` onto its heap when no memory offset is given. */
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

/**
 * out[s, ...] = sum of x[i, ...] over every i with segmentIds[i] == s.
 * Ids outside [0, numSegments) are dropped, as TensorFlow does.
 */
export function unsortedSegmentSumValues(
  x: Float32Array | Int32Array,
  segmentIds: ArrayLike<number>,
  numSegments: number,
  inner: number,
): Float32Array {
  const out = new Float32Array(numSegments * inner);
  for (let i = 0; i < segmentIds.length; i++) {
    const s = segmentIds[i];
    if (s < 0 || s >= numSegments) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j];
  }
  return out;
}

function segmentSumKernel({ inputs, attrs, backend }: {
  inputs: tf.NamedTensorInfoMap;
  attrs?: tf.NamedAttrMap;
  backend: unknown;
}): tf.TensorInfo {
  const b = backend as SyncBackend;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const idCount = tf.util.sizeFromShape(segmentIds.shape);
  const inner = tf.util.sizeFromShape(x.shape) / Math.max(idCount, 1);
  const values = unsortedSegmentSumValues(
    b.readSync(x.dataId) as Float32Array,
    b.readSync(segmentIds.dataId) as Int32Array,
    numSegments,
    inner,
  );
  const outShape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  return b.makeOutput(outShape, 'float32', undefined, values);
}

let registered = false;

/** Idempotent; called by initBackend before any backend is activated. */
export function registerMissingGradients(): void {
  if (registered) return;
  registered = true;
  for (const backendName of ['wasm']) {
    if (tf.getKernel(tf.UnsortedSegmentSum, backendName) === undefined) {
      tf.registerKernel({ kernelName: tf.UnsortedSegmentSum, backendName, kernelFunc: segmentSumKernel });
    }
  }
}
