/**
 * Where a step's time goes: tf.profile over one step, kernel times summed by kernel name
 * (forward and gradient kernels alike: the gradient runs through the same kernels), the
 * share of matrix products, and the share of the wall time spent outside any kernel
 * (JavaScript: building layouts, masks, RoPE tables, the tape, tensor bookkeeping).
 *
 * Kernel times come from backend.time(): wall time around each kernel on cpu and wasm
 * (synchronous backends), so they are as noisy as the machine.
 */
import * as tf from '@tensorflow/tfjs-core';

const MATMUL_KERNELS = new Set(['BatchMatMul', '_FusedMatMul', 'MatMul']);
/** Custom-gradient ops (tf.customGrad) are recorded as a scope around their own kernels: not added to the sums. */
const SCOPE_NAMES = new Set(['unnamed scope', '']);

export interface KernelRow {
  name: string;
  calls: number;
  ms: number;
  /** Share of the summed kernel time. */
  share: number;
}

export interface StepProfile {
  wallMs: number;
  kernelMs: number;
  /** Wall time outside kernels (JS), ms and share of the wall. */
  outsideKernelsMs: number;
  outsideShare: number;
  matMulMs: number;
  /** matMul share of the summed kernel time, and of the wall time. */
  matMulShareOfKernels: number;
  matMulShareOfWall: number;
  kernelCalls: number;
  kernels: KernelRow[];
  /** The slowest individual matMul shapes (inputs), summed over calls. */
  topMatMulShapes: { shapes: string; calls: number; ms: number }[];
}

export async function profileStep(step: () => unknown): Promise<StepProfile> {
  const checks = tf.env().getBool('CHECK_COMPUTATION_FOR_ERRORS');
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', false);
  let wallMs = 0;
  const info = await tf.profile(async () => {
    const s = performance.now();
    await step();
    wallMs = performance.now() - s;
    return [] as tf.Tensor[];
  });
  tf.env().set('CHECK_COMPUTATION_FOR_ERRORS', checks);
  const byName = new Map<string, { calls: number; ms: number }>();
  const byShape = new Map<string, { calls: number; ms: number }>();
  let kernelMs = 0;
  let matMulMs = 0;
  for (const k of info.kernels) {
    if (SCOPE_NAMES.has(k.name)) continue;
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    kernelMs += ms;
    const row = byName.get(k.name) ?? { calls: 0, ms: 0 };
    row.calls += 1;
    row.ms += ms;
    byName.set(k.name, row);
    if (MATMUL_KERNELS.has(k.name)) {
      matMulMs += ms;
      const key = k.inputShapes.map((s) => `[${s}]`).join('x');
      const r = byShape.get(key) ?? { calls: 0, ms: 0 };
      r.calls += 1;
      r.ms += ms;
      byShape.set(key, r);
    }
  }
  const kernels = [...byName.entries()]
    .map(([name, r]) => ({ name, calls: r.calls, ms: r.ms, share: r.ms / kernelMs }))
    .sort((a, b) => b.ms - a.ms);
  const topMatMulShapes = [...byShape.entries()]
    .map(([shapes, r]) => ({ shapes, ...r }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 8);
  const outside = Math.max(0, wallMs - kernelMs);
  return {
    wallMs,
    kernelMs,
    outsideKernelsMs: outside,
    outsideShare: outside / wallMs,
    matMulMs,
    matMulShareOfKernels: matMulMs / kernelMs,
    matMulShareOfWall: matMulMs / wallMs,
    kernelCalls: info.kernels.length,
    kernels,
    topMatMulShapes,
  };
}
