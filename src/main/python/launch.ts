/**
 * The torch engine as a TrainerHandle (python/PROTOCOL.md): the supervisor drives it exactly as
 * it drives the tfjs child. Before the interpreter starts, the job's images folder is rendered
 * (./images.ts); then `<python> -m mdpo_torch.trainer` runs with JSON lines on stdin/stdout.
 * stderr (warnings, tracebacks) goes to <runDir>/engine.log (after the app's own notes on the
 * images, marked [app]); its tail explains a failed start. With torch.processes > 1 or
 * torch.devices the trainer runs as N ranks under torch.distributed.run (torchCommand below).
 *
 * While the images render there is no process yet: a cancel ends the run as cancelled, a kill
 * as interrupted, a pause is passed on when the engine is up. When the engine cannot start
 * (no Python, a missing package) this handle itself answers `failed` with the one message of
 * `mdpo doctor`, numbered as the child would number it (nothing else was sent).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SerializedError } from '../../shared/api';
import type { TrainerHandle } from '../trainer/launch';
import { isChildMessage, Sequencer, serializeError, type ChildMessage, type ParentMessage, type TrainJob } from '../trainer/protocol';
import { notFoundMessage, setupCommand } from './doctor';
import { renderTorchImages } from './images';
import { findPython } from './interpreter';
import { unpackedPath } from './unpacked';

export const TORCH_MODULE = 'mdpo_torch.trainer';
const STDERR_TAIL = 30;

/**
 * The interpreter's arguments for the job's torch block. One process: `-m mdpo_torch.trainer`.
 * Several (torch.processes > 1, or torch.devices): torch's own launcher, on a free local port,
 * one rank per process or GPU: `-m torch.distributed.run --standalone --nproc-per-node N -m
 * mdpo_torch.trainer`. Every rank inherits stdin/stdout/stderr; only rank 0 reads stdin and writes
 * the protocol (trainer.py), the others write only stderr (engine.log). Ranks die with the
 * launcher (PR_SET_PDEATHSIG, distributed.py), so killing the launch kills the run. The backend
 * is gloo on the CPU (ACCELERATE_USE_CPU tells distributed.py so on a GPU machine) and NCCL on GPUs;
 * a device list becomes CUDA_VISIBLE_DEVICES.
 */
export function torchCommand(config: Pick<TrainJob['config'], 'torch' | 'backend'>): { args: string[]; env: Record<string, string>; processes: number | 'all' } {
  const torch = config.torch;
  const devices = torch.devices ?? null;
  const processes = devices === 'all' ? 'all' : Array.isArray(devices) ? devices.length : (torch.processes ?? 1);
  if (processes === 1 && devices === null) return { args: ['-m', TORCH_MODULE], env: {}, processes };
  const env: Record<string, string> = {};
  if (Array.isArray(devices)) env.CUDA_VISIBLE_DEVICES = devices.join(',');
  if (torch.device === 'cpu' || (torch.device === 'auto' && config.backend === 'cpu')) env.ACCELERATE_USE_CPU = 'true'; // PROTOCOL.md 3: device
  if (!process.env.OMP_NUM_THREADS) env.OMP_NUM_THREADS = '1'; // N ranks on one CPU: no oversubscription (torchrun's own default)
  const n = processes === 'all' ? 'gpu' : String(processes);
  return { args: ['-m', 'torch.distributed.run', '--standalone', '--nproc-per-node', n, '--max-restarts', '0', '-m', TORCH_MODULE], env, processes };
}

export interface TorchLaunchOptions {
  /** Extra environment for the interpreter (tests). */
  env?: Record<string, string>;
  /** Renders the images folder (default ./images.ts; tests may count calls). */
  render?: typeof renderTorchImages;
}

/** Where the job's images folder goes (the supervisor puts it in config.torch.negativesDir). */
export function torchImagesDir(runDir: string): string {
  return join(runDir, 'torch-images');
}

/** Starts the torch engine for `job`; the returned handle speaks the trainer protocol. */
export function launchTorch(job: TrainJob, options: TorchLaunchOptions = {}): TrainerHandle {
  const messageListeners: ((m: ChildMessage) => void)[] = [];
  const exitListeners: ((code: number | null, signal: string | null) => void)[] = [];
  const pending: ParentMessage[] = [];
  const abort = new AbortController();
  const own = new Sequencer<ChildMessage>();
  let child: ChildProcess | null = null;
  let heard = false;
  let exited = false;
  const tail: string[] = [];
  let log: WriteStream | null = null;

  const deliver = (m: ChildMessage) => {
    for (const l of messageListeners) l(m);
  };
  const finish = (code: number | null, signal: string | null) => {
    if (exited) return;
    exited = true;
    log?.end();
    for (const l of exitListeners) l(code, signal);
  };
  /** A terminal message of our own, when the engine never spoke (so seq 1 is free). */
  const endWith = (m: { type: 'failed'; error: SerializedError } | { type: 'cancelled' }, code: number) => {
    deliver(m.type === 'failed' ? own.stamp({ type: 'failed', runId: job.runId, error: m.error }) : own.stamp({ type: 'cancelled', runId: job.runId, step: job.resumeFrom?.step ?? 0 }));
    deliver(own.stamp({ type: 'exit', code }));
    finish(code, null);
  };

  const start = async () => {
    const search = findPython({ explicit: job.config.torch.python, explicitLabel: 'torch.python', appRoot: job.appRoot });
    const fix = setupCommand(job.appRoot);
    if (!search.found) throw Object.assign(new Error(notFoundMessage(search, job.appRoot)), { name: 'PythonNotFoundError' });
    const negativesDir = job.config.torch.negativesDir;
    if (!negativesDir) throw new Error('The torch job has no config.torch.negativesDir (the supervisor sets it).');
    if (!job.dataset) throw new Error(`Run ${job.runId} has no dataset (it was deleted); nothing to train on.`);
    mkdirSync(job.runDir, { recursive: true });
    log = createWriteStream(join(job.runDir, 'engine.log'), { flags: 'a' });
    log.on('error', () => {}); // the log is for humans; losing it (a deleted run folder) must not end the run
    const render = options.render ?? renderTorchImages;
    const note = (m: string) => log?.write(`[app] ${m}\n`);
    const { manifest, reused } = await render({ config: job.config, recordsFile: job.dataset.recordsFile, outDir: negativesDir, home: job.home, signal: abort.signal, log: note });
    note(`${reused ? 'reused' : 'rendered'} ${negativesDir}: ${manifest.pairs.length} pairs at ${manifest.size.join('x')} px, ${manifest.epochs} m' per pair`);
    abort.signal.throwIfAborted();

    // Python cannot read inside app.asar: the packaged app's python/ is unpacked beside it.
    const pythonPath = [unpackedPath(join(job.appRoot, 'python')), process.env.PYTHONPATH].filter(Boolean).join(delimiter);
    const { args, env: parallelEnv, processes } = torchCommand(job.config);
    if (processes !== 1) note(`${processes === 'all' ? 'one process per GPU' : `${processes} processes`} (torch.distributed.run); rank 0 speaks for all`);
    const proc = spawn(search.found.path, args, {
      env: { ...process.env, PYTHONPATH: pythonPath, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', PYTHONUNBUFFERED: '1', ...parallelEnv, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    child = proc;
    proc.stdin!.on('error', () => {}); // EPIPE after the engine exits: its exit is reported below.
    proc.stderr!.on('data', (chunk: Buffer) => {
      log?.write(chunk);
      tail.push(...chunk.toString('utf8').split('\n').filter((l) => l.trim()));
      tail.splice(0, Math.max(0, tail.length - STDERR_TAIL));
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        log?.write(`[stdout, not protocol] ${line}\n`);
        return;
      }
      if (!isChildMessage(parsed)) return;
      heard = true;
      if (parsed.type === 'failed' && /^(ModuleNotFoundError|ImportError)$/.test(parsed.error.name)) {
        // A package the engine imports late is missing or broken: say how to check and fix.
        parsed.error.message += `\nThe Python at ${search.found!.path} lacks a package the torch engine needs. Run \`mdpo doctor\` to check it (fix: \`${fix}\`).`;
      }
      deliver(parsed);
    });
    // 'close' (not 'exit'): every line of stdout has been read by then.
    proc.on('close', (code, signal) => {
      if (!heard && signal === null && !abort.signal.aborted) {
        const why = tail.slice(-6).join('\n') || `exit code ${code}`;
        endWith({ type: 'failed', error: { name: 'EngineStartError', message: `The torch engine (${search.found!.path} ${args.join(' ')}) exited before it started:\n${why}\nRun \`mdpo doctor\` to check the Python environment (fix: \`${fix}\`).` } }, code ?? 1);
        return;
      }
      finish(code, signal);
    });
    proc.on('error', (error) => {
      if (!heard) endWith({ type: 'failed', error: serializeError(error) }, 1);
      else finish(1, null);
    });
    for (const m of pending.splice(0)) proc.stdin!.write(JSON.stringify(m) + '\n');
  };

  void start().catch((error: unknown) => {
    if (abort.signal.aborted) {
      const reason = abort.signal.reason as { signal?: string } | undefined;
      if (reason?.signal) finish(null, reason.signal);
      else endWith({ type: 'cancelled' }, 0);
    } else endWith({ type: 'failed', error: serializeError(error) }, 1);
  });

  return {
    get pid() {
      return child?.pid;
    },
    send(m) {
      if (child) {
        if (child.stdin?.writable) child.stdin.write(JSON.stringify(m) + '\n');
      } else if (m.type === 'cancel') abort.abort({ cancel: true });
      else pending.push(m);
    },
    onMessage: (listener) => void messageListeners.push(listener),
    onExit: (listener) => void exitListeners.push(listener),
    kill(signal = 'SIGTERM') {
      if (child) child.kill(signal);
      else abort.abort({ signal });
    },
  };
}
