/**
 * Picks and reports the tfjs compute backend.
 *
 * Order of preference (docs/architecture.md#compute-backends): tfjs-node-gpu (CUDA), webgpu (Dawn), tfjs-node (native
 * CPU), wasm (SIMD), cpu. `MDPO_BACKEND` or an explicit `prefer` forces one. Every
 * `tf.setBackend` result is checked: tfjs silently stays on the previous backend when an
 * init fails, so a `false` (or a backend name that does not match) is an error, not a
 * fallback we pretend succeeded.
 */
import * as tf from '@tensorflow/tfjs-core';
import { createRequire } from 'node:module';
import os from 'node:os';
import { registerMissingGradients } from './gradients';

const nodeRequire = createRequire(import.meta.url);

// tfjs-core's Node bundle registers no gradients, and its ESM files (which do) cannot be
// loaded by Node's own ESM loader (extensionless imports). The union package's Node bundle
// registers every gradient, and the cpu backend, into tfjs's global registries.
nodeRequire('@tensorflow/tfjs');

/** User-facing backend names (what MDPO_BACKEND and --backend accept). */
export const BACKEND_NAMES = ['cuda', 'webgpu', 'webgpu-software', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Automatic order, best first. webgpu-software is only used when asked for. */
export const AUTO_ORDER: readonly BackendName[] = ['cuda', 'webgpu', 'tfjs-node', 'wasm', 'cpu'];

export interface BackendInfo {
  /** The user-facing name of the backend in use. */
  name: BackendName;
  /** tfjs's own name for it (tensorflow, webgpu, wasm, cpu). */
  tfjsName: string;
  /** A device description where there is one (GPU name, "wasm SIMD", CPU). */
  device: string;
  /** What was tried before this one and why it was skipped, in order. */
  skipped: { name: BackendName; reason: string }[];
  /** Whether reads must go through `await data()` (GPU backends in Node). */
  asyncReadsOnly: boolean;
}

export class BackendError extends Error {
  override name = 'BackendError';
}

export function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/** Parses MDPO_BACKEND / --backend. `auto` or empty means "pick". */
export function parseBackendChoice(value: string | undefined): BackendName | 'auto' {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (isBackendName(v)) return v;
  throw new BackendError(
    `Unknown backend "${value}". Expected one of: auto, ${BACKEND_NAMES.join(', ')}.`,
  );
}

interface Candidate {
  tfjsName: string;
  asyncReadsOnly: boolean;
  /** Loads the module that registers the backend; returns a device description. */
  load(): Promise<string>;
}

function cpuModel(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model?.trim() ?? 'CPU'} x${cpus.length}`;
}

const candidates: Record<BackendName, Candidate> = {
  cuda: {
    tfjsName: 'tensorflow',
    asyncReadsOnly: false,
    async load() {
      // Throws when libtensorflow / CUDA 11.2 / cuDNN 8 are absent.
      nodeRequire('@tensorflow/tfjs-node-gpu');
      return 'CUDA GPU (tfjs-node-gpu)';
    },
  },
  webgpu: {
    tfjsName: 'webgpu',
    asyncReadsOnly: true,
    async load() {
      const { loadWebGpu } = await import('./webgpu');
      return loadWebGpu({ allowSoftware: false });
    },
  },
  'webgpu-software': {
    tfjsName: 'webgpu',
    asyncReadsOnly: true,
    async load() {
      const { loadWebGpu } = await import('./webgpu');
      return loadWebGpu({ allowSoftware: true });
    },
  },
  'tfjs-node': {
    tfjsName: 'tensorflow',
    asyncReadsOnly: false,
    async load() {
      nodeRequire('@tensorflow/tfjs-node');
      return `${cpuModel()} (libtensorflow)`;
    },
  },
  wasm: {
    tfjsName: 'wasm',
    asyncReadsOnly: false,
    async load() {
      await import('@tensorflow/tfjs-backend-wasm');
      return `${cpuModel()} (wasm SIMD, 1 thread)`;
    },
  },
  cpu: {
    tfjsName: 'cpu',
    asyncReadsOnly: false,
    async load() {
      return `${cpuModel()} (plain JS)`;
    },
  },
};

let current: BackendInfo | null = null;

/** The backend chosen by the last successful `initBackend`, or null before it. */
export function currentBackend(): BackendInfo | null {
  return current;
}

async function activate(name: BackendName): Promise<string> {
  const c = candidates[name];
  const device = await c.load();
  if (tf.findBackendFactory(c.tfjsName) === null && tf.findBackend(c.tfjsName) === null) {
    throw new BackendError(`${name}: the module loaded but registered no "${c.tfjsName}" backend`);
  }
  const ok = await tf.setBackend(c.tfjsName);
  if (!ok || tf.getBackend() !== c.tfjsName) {
    throw new BackendError(`${name}: tf.setBackend('${c.tfjsName}') failed (init returned false)`);
  }
  await tf.ready();
  return device;
}

/**
 * Selects a backend. With `prefer` (or MDPO_BACKEND) set to a name, that backend or an
 * error; otherwise the first of AUTO_ORDER that initialises.
 */
export async function initBackend(
  prefer: BackendName | 'auto' = parseBackendChoice(process.env.MDPO_BACKEND),
): Promise<BackendInfo> {
  registerMissingGradients();
  // PROD silences tfjs's console banners ("looks like you are running TensorFlow.js in
  // Node.js"); our own report says which backend runs and why.
  tf.env().set('PROD', true);
  const order = prefer === 'auto' ? AUTO_ORDER : [prefer];
  const skipped: BackendInfo['skipped'] = [];
  for (const name of order) {
    try {
      const device = await activate(name);
      const c = candidates[name];
      current = { name, tfjsName: c.tfjsName, device, skipped, asyncReadsOnly: c.asyncReadsOnly };
      return current;
    } catch (err) {
      const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
      if (prefer !== 'auto') {
        throw new BackendError(`Backend "${name}" was requested but could not start: ${reason}`);
      }
      skipped.push({ name, reason });
    }
  }
  throw new BackendError(
    `No backend could start: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`,
  );
}

/** One line for logs, the CLI and the UI. */
export function describeBackend(info: BackendInfo): string {
  return `${info.name} — ${info.device}`;
}
