/**
 * Experiment (--fast-matmul): tfjs-backend-wasm 4.22's BatchMatMul is fast (XNNPACK,
 * ~15 GFLOP/s here) only for a single 2-D product without transposes; with transposeA or
 * transposeB, or with a batch > 1, its C++ kernel takes a generic loop at ~1-1.7 GFLOP/s.
 * Every Linear of the model (x @ W^T: transposeB), every weight-side gradient (transposeA)
 * and every attention product (batched) hits the slow loop.
 *
 * This wraps the registered wasm kernel, once, from the outside: for 2-D products the
 * transposes are materialised with the Transpose kernel (O(size), cheap against the product)
 * and the product goes to the fast path. Batched products (attention) pass through. The
 * arithmetic is the same; the benchmark's parity check runs under it when it is on.
 */
import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;
interface KernelArgs {
  inputs: Record<string, Info>;
  backend: { disposeData(id: object): void };
  attrs: Record<string, unknown>;
}
type KernelFn = (args: KernelArgs) => Info | Info[];

let installed: tf.KernelConfig | null = null;

export function fastMatMulInstalled(): boolean {
  return installed !== null;
}

/** Wraps wasm's BatchMatMul. Returns false when the wasm backend has no such kernel. */
export function installFastMatMul(): boolean {
  if (installed) return true;
  const orig = tf.getKernel('BatchMatMul', 'wasm');
  const transposeK = tf.getKernel('Transpose', 'wasm');
  if (!orig || !transposeK) return false;
  const mm = orig.kernelFunc as unknown as KernelFn;
  const call = (k: tf.KernelConfig, args: KernelArgs) => (k.kernelFunc as unknown as KernelFn)(args) as Info;

  const kernelFunc: KernelFn = (args) => {
    const { backend } = args;
    let { a, b } = args.inputs;
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const batch = (x: Info) => x.shape.slice(0, -2).reduce((s, d) => s * d, 1);
    // Batched products: the generic loop either way (one 2-D call per element costs more in
    // kernel-call overhead than it saves, measured), so they go through unchanged.
    if ((!transposeA && !transposeB) || batch(a) > 1 || batch(b) > 1) return mm(args);
    const temps: Info[] = [];
    const swapLast = (x: Info): Info => {
      const r = x.shape.length;
      const perm = [...Array(r).keys()];
      [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
      const t = call(transposeK, { inputs: { x }, backend, attrs: { perm } });
      temps.push(t);
      return t;
    };
    if (transposeA) a = swapLast(a);
    if (transposeB) b = swapLast(b);
    const out = mm({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as Info;
    temps.forEach((t) => backend.disposeData(t.dataId));
    return out;
  };

  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...orig, kernelFunc: kernelFunc as unknown as tf.KernelFunc });
  installed = orig;
  return true;
}

/** Puts the original kernel back. */
export function uninstallFastMatMul(): void {
  if (!installed) return;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel(installed);
  installed = null;
}

let identityOrig: tf.KernelConfig | null = null;

/**
 * Experiment (--share-identity): tfjs clones every tensor it saves for the backward
 * (engine.saveTensorsForBackwardMode -> clone -> Identity), and wasm's Identity kernel copies
 * the buffer; the cpu backend's only bumps a reference count. This makes wasm's do the same
 * (tensors are immutable; a variable's assign swaps its buffer, it never writes in place).
 */
export function installSharedIdentity(): boolean {
  if (identityOrig) return true;
  const orig = tf.getKernel('Identity', 'wasm');
  if (!orig) return false;
  tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({
    ...orig,
    kernelFunc: (({ inputs, backend }: { inputs: { x: Info }; backend: { incRef(id: object): void } }) => {
      backend.incRef(inputs.x.dataId);
      return { dataId: inputs.x.dataId, shape: inputs.x.shape, dtype: inputs.x.dtype };
    }) as unknown as tf.KernelFunc,
  });
  identityOrig = orig;
  return true;
}

export function sharedIdentityInstalled(): boolean {
  return identityOrig !== null;
}
