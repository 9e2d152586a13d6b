/**
 * The app's own state, as the header and `mdpo doctor` show it: the tfjs backend, the app's
 * version and warnings, and the torch engine's Python, packages and devices. Part of the API
 * contract (./api re-exports every type here).
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
  mode: 'electron' | 'browser' | 'cli';
  backend: BackendSummary;
  /** The data folder (MDPO_HOME, default ~/.mdpo-studio). */
  home: string;
  /** Which optional pieces this build has (the UI hides what is missing). */
  features: { datasets: boolean; training: boolean; evaluation: boolean; demo: boolean; ask: boolean };
}

/** One CUDA (or ROCm) GPU as torch sees it. */
export interface TorchGpu {
  index: number;
  name: string;
  memoryBytes: number;
  /** Compute capability, e.g. "8.9". */
  capability: string;
  /** Native bf16 (the torch engine autocasts to bf16 where true, else trains in fp32). */
  bf16: boolean;
}

/** `mdpo doctor` / app:doctor: what the torch engine would run with on this machine. */
export interface TorchDoctor {
  /** True when the torch engine can start: a Python >= 3.10 with every package below. */
  ok: boolean;
  /** The interpreter used, and why it was chosen; null when none was found. */
  python: { path: string; source: 'option' | 'MDPO_PYTHON' | 'venv' | 'PATH'; version: string | null } | null;
  /** Every place looked at, in order, with what was there ("missing", "not executable", "found"). */
  searched: string[];
  /** The engine's packages: installed version (null when missing) and the pin in python/requirements.txt. */
  packages: { name: string; version: string | null; pinned: string | null; error: string | null }[];
  devices: {
    cuda: TorchGpu[];
    /** Apple silicon's Metal backend. */
    mps: boolean;
    /** torch's intra-op threads, and the machine's logical CPUs. */
    cpuThreads: number | null;
    cpuCount: number | null;
  };
  /** The device `auto` picks: cuda, mps or cpu (null when the engine cannot start). */
  device: 'cuda' | 'mps' | 'cpu' | null;
  /** ONE message saying what is wrong and the exact command that fixes it; null when ok. */
  problem: { message: string; fix: string } | null;
  /** Things that work but differ from the tested set (e.g. a version other than the pin). */
  warnings: string[];
}
