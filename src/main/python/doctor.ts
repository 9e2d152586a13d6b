/**
 * `mdpo doctor` and the app's app:doctor: finds the torch engine's Python (./interpreter),
 * runs python/doctor_probe.py in it (a script of this repository, never code from a model
 * folder) and turns its JSON into a TorchDoctor: versions, devices, and ONE problem with the
 * exact command that fixes it.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TorchDoctor } from '../../shared/api';
import { findPython, type PythonLookup, type PythonSearch } from './interpreter';
import { unpackedPath } from './unpacked';

/** What the torch engine imports (python/doctor_probe.py PACKAGES, in the same order). */
export const ENGINE_PACKAGES = ['torch', 'transformers', 'peft', 'accelerate', 'safetensors'] as const;
export const MIN_PYTHON: readonly [number, number] = [3, 10];
const PROBE_TIMEOUT_MS = 120_000;

/** The probe's JSON (python/doctor_probe.py's docstring). */
interface ProbeReport {
  probe: number;
  python: { version: string; executable: string; implementation: string };
  packages: Record<string, { version: string | null; error: string | null }>;
  optional?: Record<string, { version: string | null; error: string | null }>;
  torch: { cuda: string | null; hip: string | null; threads: number } | null;
  devices: {
    cuda: { index: number; name: string; memory_bytes: number; capability: string; bf16: boolean }[];
    cuda_error?: string;
    mps: { built: boolean; available: boolean };
    cpu_count: number;
  };
}

export interface DoctorOptions extends PythonLookup {
  timeoutMs?: number;
}

/** The command that sets the environment up, run in the app's folder. */
export function setupCommand(appRoot: string): string {
  return `cd ${JSON.stringify(appRoot)} && npm run setup:python`;
}

/** package -> pinned version, from python/requirements.txt ("name==1.2.3" lines). */
export function readPins(appRoot: string): Map<string, string> {
  const file = join(appRoot, 'python', 'requirements.txt');
  const pins = new Map<string, string>();
  if (!existsSync(file)) return pins;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*==\s*([^\s#;]+)/.exec(line);
    if (m) pins.set(m[1]!.toLowerCase(), m[2]!);
  }
  return pins;
}

function emptyReport(appRoot: string, searched: string[]): TorchDoctor {
  const pins = readPins(appRoot);
  return {
    ok: false,
    python: null,
    searched,
    packages: ENGINE_PACKAGES.map((name) => ({ name, version: null, pinned: pins.get(name) ?? null, error: null })),
    devices: { cuda: [], mps: false, cpuThreads: null, cpuCount: null },
    device: null,
    problem: null,
    warnings: [],
  };
}

function runProbe(python: string, probe: string, timeoutMs: number): Promise<{ report: ProbeReport | null; failure: string | null }> {
  return new Promise((resolve) => {
    execFile(python, [probe], { timeout: timeoutMs, maxBuffer: 4 << 20, windowsHide: true }, (error, stdout, stderr) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      let report: ProbeReport | null = null;
      try {
        const parsed = JSON.parse(last) as ProbeReport;
        if (parsed && parsed.probe === 1) report = parsed;
      } catch {
        report = null;
      }
      if (report && !error) return resolve({ report, failure: null });
      const tail = String(stderr).trim().split('\n').slice(-3).join(' | ');
      const why = (error as NodeJS.ErrnoException & { killed?: boolean } | null)?.killed
        ? `did not answer within ${Math.round(timeoutMs / 1000)} s`
        : error
          ? `failed (${error.message.split('\n')[0]}${tail ? `: ${tail}` : ''})`
          : 'printed no report';
      resolve({ report: null, failure: why });
    });
  });
}

const versionBase = (v: string) => v.split('+')[0]!;

function atLeast(version: string, min: readonly [number, number]): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  return a > min[0] || (a === min[0] && b >= min[1]);
}

/** Why no interpreter was found, and the command that fixes it (the doctor and a failed start say the same). */
export function notFoundMessage(search: PythonSearch, appRoot: string): string {
  const fix = setupCommand(appRoot);
  if (search.refused) {
    return `${search.refused}. Point it at a Python with torch, transformers, peft and accelerate, or drop it to use the project's environment (\`${fix}\` creates it).`;
  }
  return `No Python found for the torch engine (looked at: ${search.searched.join('; ')}). Run \`${fix}\` to create the project's environment (.venv with the pinned torch, transformers, peft and accelerate).`;
}

/** Finds the interpreter, probes it, and says what (if anything) stops the torch engine. */
export async function runDoctor(options: DoctorOptions): Promise<TorchDoctor> {
  const { appRoot } = options;
  const fix = setupCommand(appRoot);
  const search = findPython(options);
  const doctor = emptyReport(appRoot, search.searched);

  if (!search.found) {
    doctor.problem = { message: notFoundMessage(search, appRoot), fix };
    return doctor;
  }
  const { path, source } = search.found;
  doctor.python = { path, source, version: null };
  // Python cannot read inside app.asar: it gets the unpacked copy (electron-builder.yml asarUnpack).
  const probe = unpackedPath(join(appRoot, 'python', 'doctor_probe.py'));
  if (!existsSync(probe)) {
    doctor.problem = { message: `This build has no python/doctor_probe.py under ${appRoot}; it cannot check the torch engine's Python.`, fix };
    return doctor;
  }
  const { report, failure } = await runProbe(path, probe, options.timeoutMs ?? PROBE_TIMEOUT_MS);
  if (!report) {
    doctor.problem = { message: `The Python at ${path} (${source}) ${failure}. Run \`${fix}\` to create a working environment, or point MDPO_PYTHON at another interpreter.`, fix };
    return doctor;
  }

  doctor.python.version = report.python.version;
  doctor.packages = doctor.packages.map((p) => ({ ...p, version: report.packages[p.name]?.version ?? null, error: report.packages[p.name]?.error ?? null }));
  doctor.devices = {
    cuda: report.devices.cuda.map((g) => ({ index: g.index, name: g.name, memoryBytes: g.memory_bytes, capability: g.capability, bf16: g.bf16 })),
    mps: report.devices.mps.available,
    cpuThreads: report.torch?.threads ?? null,
    cpuCount: report.devices.cpu_count,
  };
  if (report.packages.torch?.version && report.optional?.torchvision && report.optional.torchvision.version === null) {
    doctor.warnings.push('torchvision is not installed: Qwen2-VL and Qwen2.5-VL folders cannot load (their processor builds a video processor that needs it); the other families train.');
  }
  if (report.devices.cuda_error) doctor.warnings.push(`CUDA is installed but unusable: ${report.devices.cuda_error}`);
  for (const p of doctor.packages) {
    if (p.version && p.pinned && versionBase(p.version) !== versionBase(p.pinned)) doctor.warnings.push(`${p.name} ${p.version} differs from the tested ${p.pinned} (python/requirements.txt).`);
  }

  const where = `${path} (Python ${report.python.version}, from ${source === 'venv' ? 'the project .venv' : source})`;
  if (!atLeast(report.python.version, MIN_PYTHON)) {
    doctor.problem = { message: `The Python at ${where} is too old: the torch engine needs ${MIN_PYTHON.join('.')} or newer. Run \`${fix}\` (MDPO_BOOTSTRAP_PYTHON picks the Python it starts from).`, fix };
    return doctor;
  }
  const missing = doctor.packages.filter((p) => p.version === null);
  if (missing.length > 0) {
    const broken = missing.filter((p) => p.error && !/^ModuleNotFoundError/.test(p.error));
    const detail = broken.length ? ` (${broken.map((p) => `${p.name}: ${p.error}`).join('; ')})` : '';
    doctor.problem = {
      message: `The Python at ${where} lacks ${missing.map((p) => p.name).join(', ')}${detail}. Run \`${fix}\` to create the project's environment with the pinned versions, or set MDPO_PYTHON to a Python that has them.`,
      fix,
    };
    return doctor;
  }
  doctor.ok = true;
  doctor.device = doctor.devices.cuda.length > 0 ? 'cuda' : doctor.devices.mps ? 'mps' : 'cpu';
  return doctor;
}

const GIB = 1024 ** 3;

/** The human form of a report (`mdpo doctor` without --json). */
export function formatDoctor(d: TorchDoctor): string {
  const lines: string[] = ['torch engine'];
  const from = { option: '--python', MDPO_PYTHON: '$MDPO_PYTHON', venv: "the project's .venv", PATH: 'PATH' } as const;
  lines.push(`  python       ${d.python ? `${d.python.path} (${d.python.version ?? 'unknown version'}; from ${from[d.python.source]})` : 'not found'}`);
  for (const p of d.packages) {
    const state = p.version ?? (p.error ? `missing (${p.error})` : 'not checked');
    lines.push(`  ${p.name.padEnd(12)} ${state}${p.pinned && p.version && versionBase(p.version) !== versionBase(p.pinned) ? `  (tested: ${p.pinned})` : ''}`);
  }
  if (d.python?.version) {
    if (d.devices.cuda.length === 0) lines.push('  cuda         no GPU');
    for (const g of d.devices.cuda) lines.push(`  cuda:${g.index}       ${g.name}, ${(g.memoryBytes / GIB).toFixed(1)} GiB, compute ${g.capability}, ${g.bf16 ? 'bf16' : 'no bf16 (fp32)'}`);
    lines.push(`  mps          ${d.devices.mps ? 'available' : 'no'}`);
    lines.push(`  cpu          ${d.devices.cpuThreads ?? '?'} torch threads, ${d.devices.cpuCount ?? '?'} logical CPUs`);
  }
  if (d.device) lines.push(`  device       ${d.device} (what torch.device "auto" picks)`);
  for (const w of d.warnings) lines.push(`  warning: ${w}`);
  lines.push(d.ok ? 'ready: the torch engine can run here.' : `not ready: ${d.problem?.message ?? 'unknown problem'}`);
  return lines.join('\n') + '\n';
}
