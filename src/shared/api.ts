/**
 * The one API contract between the UI and the back end. Types only: every side imports it
 * (renderer, preload, main, CLI) and none of them may add a second definition.
 */

export interface BackendSummary {
  /** User-facing backend name: cuda, webgpu, tfjs-node, wasm, cpu. */
  name: string;
  /** Device description (GPU adapter, CPU model). */
  device: string;
}

export interface AppInfo {
  name: string;
  version: string;
  /** Where the UI is running: the Electron shell or browser mode. */
  mode: 'electron' | 'browser';
  backend: BackendSummary;
}

/** Every method the UI can call. IPC channels are `domain:verb`. */
export interface Api {
  app: {
    info(): Promise<AppInfo>;
  };
}

/** The global the preload exposes in Electron. */
export const API_GLOBAL = 'mdpo' as const;
