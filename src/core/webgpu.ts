/**
 * WebGPU through Dawn's Node binding (npm `webgpu`): Vulkan, D3D12 or Metal, any GPU vendor.
 *
 * Order matters: tfjs-backend-webgpu registers itself only if `navigator.gpu` exists when
 * it is loaded, and it checks GPU buffers with `instanceof GPUBuffer`, so Dawn's globals
 * must be on globalThis first. `navigator.gpu` keeps Node alive: `releaseWebGpu` removes it.
 */
import { createRequire } from 'node:module';

const nodeRequire = createRequire(import.meta.url);

/** The slice of the WebGPU API used here (no DOM typings in the Node build). */
interface GpuAdapterLike {
  info?: AdapterInfoLike;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'high-performance' | 'low-power' }): Promise<GpuAdapterLike | null>;
}

interface DawnModule {
  create(flags: string[]): GpuLike;
  globals: Record<string, unknown>;
}

export interface WebGpuOptions {
  /** Accept a software adapter (lavapipe, SwiftShader): only for tests and CI. */
  allowSoftware: boolean;
}

interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}

let installed = false;

function installDawn(): void {
  if (installed) return;
  const dawn = nodeRequire('webgpu') as DawnModule;
  Object.assign(globalThis, dawn.globals);
  const nav = ((globalThis as { navigator?: object }).navigator ?? {}) as { gpu?: GpuLike };
  Object.defineProperty(nav, 'gpu', { value: dawn.create([]), configurable: true, writable: true });
  if (!(globalThis as { navigator?: object }).navigator) {
    Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
  }
  installed = true;
  process.once('exit', releaseWebGpu);
}

/** Drops the Dawn instance so the process can exit. */
export function releaseWebGpu(): void {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav && 'gpu' in nav) delete nav.gpu;
  installed = false;
}

export function describeAdapter(info: AdapterInfoLike): string {
  const parts = [info.vendor, info.architecture, info.device, info.description].filter(
    (p): p is string => typeof p === 'string' && p.length > 0,
  );
  return parts.length > 0 ? parts.join(' / ') : 'unknown adapter';
}

export function isSoftwareAdapter(info: AdapterInfoLike): boolean {
  const text = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.description ?? ''}`.toLowerCase();
  return /software|llvmpipe|lavapipe|swiftshader|cpu/.test(text);
}

/**
 * Loads Dawn and the tfjs WebGPU backend; returns the adapter description.
 * Throws when there is no adapter, or only a software one and `allowSoftware` is false.
 */
export async function loadWebGpu(options: WebGpuOptions): Promise<string> {
  installDawn();
  const gpu = (globalThis as unknown as { navigator: { gpu: GpuLike } }).navigator.gpu;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    releaseWebGpu();
    throw new Error('no WebGPU adapter (no Vulkan/D3D12/Metal driver found)');
  }
  const info = adapter.info ?? {};
  if (isSoftwareAdapter(info) && !options.allowSoftware) {
    releaseWebGpu();
    throw new Error(
      `only a software adapter is available (${describeAdapter(info)}); use webgpu-software to accept it`,
    );
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  return `WebGPU: ${describeAdapter(info)}`;
}
