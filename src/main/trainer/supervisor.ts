/**
 * Owns the trainer processes of this app instance and is the one writer of their results:
 * metrics are buffered and committed in batches (and always with a checkpoint, so a checkpoint
 * row implies all metrics up to its step). Turns protocol messages into store rows and
 * ApiEvents. A trainer that exits without a terminal message (crash, SIGKILL) leaves its run
 * `interrupted`, resumable from its last checkpoint. Runs with config.engine 'torch' start the
 * Python engine (../python/launch.ts) behind the same TrainerHandle; the demo, evaluate and ask
 * processes live in ./demo-process.ts and ./task-processes.ts.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiEvent, RunProgress, RunStatus, SerializedError } from '../../shared/api';
import type { Store } from '../store';
import type { TrainerHandle, TrainerLauncher } from './launch';
import type { ImageRef as CoreImageRef } from '../../core/data/types';
import { launchTorch, torchImagesDir } from '../python/launch';
import { startDemoProcess } from './demo-process';
import { askProcess, evaluateProcess, type ProcessContext } from './task-processes';
import { Sequencer, type ChildMessage, type ParentMessage, type TrainJob, type Unsequenced } from './protocol';

const FLUSH_MS = 500;
const FLUSH_ROWS = 500;

interface Live {
  runId: number;
  handle: TrainerHandle;
  out: Sequencer<ParentMessage>;
  inSeq: Sequencer<ChildMessage>;
  terminal: boolean;
  progress: RunProgress | null;
  done: Promise<RunStatus>;
  settle: (status: RunStatus) => void;
}

export class SupervisorError extends Error {
  override name = 'SupervisorError';
  constructor(
    message: string,
    readonly code: 'not_found' | 'conflict',
  ) {
    super(message);
  }
}

export interface SupervisorOptions {
  home: string;
  launcher: TrainerLauncher;
  emit?: (event: ApiEvent) => void;
  /** The app's install folder, passed to the trainer (resources/base-model). */
  appRoot?: string;
  /** Extra environment for trainer processes (tests: MDPO_TRAINER_ENGINE). */
  trainerEnv?: Record<string, string>;
  /** Starts the torch engine for runs with config.engine 'torch' (default: src/main/python/launch.ts). */
  torchLauncher?: typeof launchTorch;
}

export class Supervisor {
  private readonly live = new Map<number, Live>();
  private readonly evaluating = new Map<number, { handle: TrainerHandle; done: Promise<void> }>();
  private readonly asking = new Set<TrainerHandle>();
  private demo: { handle: TrainerHandle; out: Sequencer<ParentMessage>; finished: Promise<unknown> } | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private listeners = new Set<(event: ApiEvent) => void>();

  constructor(
    private readonly store: Store,
    private readonly options: SupervisorOptions,
  ) {
    if (options.emit) this.listeners.add(options.emit);
  }

  /** Adds an event listener; returns the remover. */
  subscribe(listener: (event: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Publishes an event to every subscriber (the supervisor is the app's event bus). */
  publish(event: ApiEvent): void {
    this.emit(event);
  }

  private emit(event: ApiEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A broken listener must not stop training bookkeeping.
      }
    }
  }

  isLive(runId: number): boolean {
    return this.live.has(runId);
  }

  progress(runId: number): RunProgress | null {
    return this.live.get(runId)?.progress ?? null;
  }

  /** Resolves with the final status when the run's trainer process has exited. */
  waitFor(runId: number): Promise<RunStatus> {
    const l = this.live.get(runId);
    if (l) return l.done;
    const run = this.store.getRun(runId);
    if (!run) return Promise.reject(new SupervisorError(`Run ${runId} does not exist.`, 'not_found'));
    return Promise.resolve(run.status);
  }

  /** Starts a queued run, or restarts an interrupted/failed/cancelled one from its last checkpoint. */
  start(runId: number): void {
    const run = this.store.getRun(runId);
    if (!run) throw new SupervisorError(`Run ${runId} does not exist.`, 'not_found');
    if (this.live.has(runId)) throw new SupervisorError(`Run ${runId} is already running.`, 'conflict');
    if (run.status === 'running' || run.status === 'paused') {
      throw new SupervisorError(`Run ${runId} is ${run.status} in another process (pid ${run.ownerPid}).`, 'conflict');
    }
    if (run.status === 'completed') throw new SupervisorError(`Run ${runId} has already completed.`, 'conflict');

    let resumeFrom: TrainJob['resumeFrom'] = null;
    if (run.status !== 'queued') {
      const ckpt = this.store.latestCheckpoint(runId);
      const from = ckpt?.step ?? 0;
      // Metrics after the checkpoint will be logged again by the resumed run.
      this.store.deleteMetricsAfter(runId, from);
      this.store.deleteCheckpointsAfter(runId, from);
      resumeFrom = ckpt ? { step: ckpt.step, path: ckpt.path } : null;
      this.store.updateRun(runId, { step: from });
    }
    mkdirSync(run.runDir, { recursive: true });
    const dataset = run.datasetId == null ? null : this.store.getDataset(run.datasetId);
    const torch = run.config.engine === 'torch';
    const job: TrainJob = {
      runId,
      // The torch engine reads its images (m and m', rendered before it starts) from the run folder.
      config: torch ? { ...run.config, torch: { ...run.config.torch, negativesDir: torchImagesDir(run.runDir) } } : run.config,
      runDir: run.runDir,
      home: this.options.home,
      dataset: dataset
        ? { root: dataset.sourcePath, format: dataset.format, recordsFile: join(this.options.home, 'datasets', String(dataset.id), 'records.json') }
        : null,
      appRoot: this.options.appRoot ?? process.cwd(),
      resumeFrom,
    };

    const handle = torch ? (this.options.torchLauncher ?? launchTorch)(job, { env: this.options.trainerEnv }) : this.options.launcher(this.options.trainerEnv);
    let settle!: (status: RunStatus) => void;
    const done = new Promise<RunStatus>((resolve) => (settle = resolve));
    const live: Live = {
      runId,
      handle,
      out: new Sequencer<ParentMessage>(),
      inSeq: new Sequencer<ChildMessage>(),
      terminal: false,
      progress: null,
      done,
      settle,
    };
    this.live.set(runId, live);
    this.store.updateRun(runId, {
      status: 'running',
      ownerPid: process.pid,
      trainerPid: handle.pid ?? null,
      error: null,
      finishedAt: null,
    });
    this.emit({ type: 'run:status', runId, status: 'running', error: null });

    handle.onMessage((message) => this.onMessage(live, message, job));
    handle.onExit((code, signal) => this.onExit(live, code, signal));
  }

  pause(runId: number): void {
    this.command(runId, { type: 'pause' });
  }

  resume(runId: number): void {
    if (this.live.has(runId)) this.command(runId, { type: 'resume' });
    else this.start(runId);
  }

  cancel(runId: number): void {
    if (this.live.has(runId)) {
      this.command(runId, { type: 'cancel' });
      return;
    }
    const run = this.store.getRun(runId);
    if (!run) throw new SupervisorError(`Run ${runId} does not exist.`, 'not_found');
    if (run.status === 'queued' || run.status === 'interrupted') {
      this.setStatus(runId, 'cancelled', null);
      return;
    }
    throw new SupervisorError(`Run ${runId} is ${run.status}; only a live, queued or interrupted run can be cancelled.`, 'conflict');
  }

  /**
   * Evaluates a completed run in its own trainer process (the UI stays responsive); the parent
   * writes the evaluation rows and outputs, replacing the run's previous ones.
   */
  evaluate(runId: number, task: { scenes: number; seed: number }): Promise<void> {
    const run = this.store.getRun(runId);
    if (!run) throw new SupervisorError(`Run ${runId} does not exist.`, 'not_found');
    if (run.status !== 'completed') throw new SupervisorError(`Run ${runId} is ${run.status}; only a completed run can be evaluated.`, 'conflict');
    this.refuseTorch(run, 'evaluated on the built-in world');
    if (this.evaluating.has(runId)) throw new SupervisorError(`Run ${runId} is already being evaluated.`, 'conflict');
    const job = this.runTaskJob(run, { kind: 'evaluate', ...task });
    const evaluation = evaluateProcess(this.processContext(), runId, job, () => this.evaluating.delete(runId));
    this.evaluating.set(runId, evaluation);
    return evaluation.done;
  }

  /**
   * Runs the built-in demo in a trainer process. Its study callbacks come back as demoHook
   * messages and are recorded by src/main/demo-store.ts here (this process writes the DB).
   */
  startDemo(task: { preset: 'quick' | 'full'; baseDir: string; outDir: string }): Promise<'done' | 'failed' | 'cancelled'> {
    if (this.demo) throw new SupervisorError('The demo is already running.', 'conflict');
    const demo = startDemoProcess(this.processContext(), task, () => (this.demo = null));
    this.demo = demo;
    return demo.finished;
  }

  /** Cancels the running demo; false when none runs. */
  cancelDemo(): boolean {
    if (!this.demo) return false;
    this.demo.handle.send(this.demo.out.stamp({ type: 'cancel' }));
    return true;
  }

  isDemoRunning(): boolean {
    return this.demo !== null;
  }

  /** What the demo, evaluate and ask processes need from here. */
  private processContext(): ProcessContext {
    return {
      store: this.store,
      home: this.options.home,
      appRoot: this.options.appRoot ?? process.cwd(),
      launch: () => this.options.launcher(this.options.trainerEnv),
      emit: (event) => this.emit(event),
      setStatus: (runId, status, error) => this.setStatus(runId, status, error),
    };
  }

  /**
   * The built-in world evaluation is for the built-in base only: a torch run's Hugging Face model
   * is refused. Ask works on torch runs (./answers.ts picks the tfjs or the Python answerer).
   */
  private refuseTorch(run: { id: number; config: TrainJob['config'] }, what: string): void {
    if (run.config.engine === 'torch') {
      throw new SupervisorError(`Run ${run.id} was trained by the torch engine; it cannot be ${what} in the app yet (export its adapter with \`mdpo runs export ${run.id} --out <dir> --what adapter\` and load it with PEFT).`, 'conflict');
    }
  }

  /** A job that works on a finished run's model (evaluate, ask): no dataset, nothing to resume. */
  private runTaskJob(run: { id: number; config: TrainJob['config']; runDir: string }, task: NonNullable<TrainJob['task']>): TrainJob {
    return {
      runId: run.id,
      config: run.config,
      runDir: run.runDir,
      home: this.options.home,
      dataset: null,
      appRoot: this.options.appRoot ?? process.cwd(),
      resumeFrom: null,
      task,
    };
  }

  /** One greedy answer of a completed run's model about an image, from a short-lived trainer process. */
  ask(runId: number, image: CoreImageRef, question: string, maxTokens: number): Promise<string> {
    const run = this.store.getRun(runId);
    if (!run) throw new SupervisorError(`Run ${runId} does not exist.`, 'not_found');
    const job = this.runTaskJob(run, { kind: 'ask', image, question, maxTokens });
    const { handle, answer } = askProcess(this.processContext(), job, () => this.asking.delete(handle));
    this.asking.add(handle);
    return answer;
  }

  isEvaluating(runId: number): boolean {
    return this.evaluating.has(runId);
  }

  /** Stops every trainer (app quit): their runs become interrupted, resumable later. */
  async shutdown(): Promise<void> {
    const waits: Promise<unknown>[] = [...this.live.values()].map((l) => {
      l.handle.kill('SIGTERM');
      return l.done;
    });
    for (const h of this.asking) h.kill('SIGTERM');
    if (this.demo) {
      this.demo.handle.kill('SIGTERM');
      waits.push(this.demo.finished);
    }
    for (const e of this.evaluating.values()) {
      e.handle.kill('SIGTERM');
      waits.push(e.done.catch(() => {}));
    }
    await Promise.all(waits);
    this.store.flushMetrics();
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  private command(runId: number, message: Unsequenced<ParentMessage>): void {
    const l = this.live.get(runId);
    if (!l) {
      const run = this.store.getRun(runId);
      if (!run) throw new SupervisorError(`Run ${runId} does not exist.`, 'not_found');
      throw new SupervisorError(`Run ${runId} is ${run.status}, not running in this app.`, 'conflict');
    }
    l.handle.send(l.out.stamp(message));
  }

  private scheduleFlush(): void {
    if (this.store.bufferedMetricCount >= FLUSH_ROWS) {
      this.flush();
      return;
    }
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.store.flushMetrics();
    for (const l of this.live.values()) {
      if (l.progress) this.store.updateRun(l.runId, { step: l.progress.step });
    }
  }

  private setStatus(runId: number, status: RunStatus, error: SerializedError | null): void {
    const terminal = status !== 'running' && status !== 'paused' && status !== 'queued';
    this.store.updateRun(runId, {
      status,
      error,
      ...(terminal ? { finishedAt: new Date().toISOString(), ownerPid: null, trainerPid: null } : {}),
    });
    this.emit({ type: 'run:status', runId, status, error });
  }

  private onMessage(l: Live, m: ChildMessage, job: TrainJob): void {
    l.inSeq.accept(m);
    const runId = l.runId;
    switch (m.type) {
      case 'ready':
        this.store.updateRun(runId, { trainerPid: m.pid });
        l.handle.send(l.out.stamp({ type: 'start', job }));
        break;
      case 'started': {
        const run = this.store.getRun(runId);
        this.store.updateRun(runId, {
          backend: m.backend,
          totalSteps: m.totalSteps,
          step: m.startStep,
          startedAt: run?.startedAt ?? new Date().toISOString(),
        });
        break;
      }
      case 'metrics':
        this.store.bufferMetrics(runId, m.step, m.values);
        this.scheduleFlush();
        this.emit({ type: 'run:metrics', runId, step: m.step, values: m.values });
        break;
      case 'progress': {
        const { seq: _seq, type: _type, runId: _r, ...progress } = m;
        l.progress = progress;
        this.emit({ type: 'run:progress', runId, ...progress });
        break;
      }
      case 'checkpoint':
        this.store.recordCheckpoint(runId, m.step, m.path);
        this.emit({ type: 'run:checkpoint', runId, step: m.step });
        break;
      case 'paused':
        this.flush();
        this.store.updateRun(runId, { step: m.step });
        this.setStatus(runId, 'paused', null);
        break;
      case 'resumed':
        this.setStatus(runId, 'running', null);
        break;
      case 'done':
      case 'cancelled':
        l.terminal = true;
        this.flush();
        this.store.updateRun(runId, { step: m.step });
        this.setStatus(runId, m.type === 'done' ? 'completed' : 'cancelled', null);
        break;
      case 'failed':
        l.terminal = true;
        this.flush();
        this.setStatus(runId, 'failed', m.error);
        break;
      case 'log':
      case 'exit':
      case 'evalProgress':
      case 'evaluation':
      case 'demoHook':
      case 'demoProgress':
      case 'answer':
        break;
    }
  }

  private onExit(l: Live, code: number | null, signal: string | null): void {
    // Flush while the run is still live, so its last progress step is written too.
    this.flush();
    this.live.delete(l.runId);
    if (!l.terminal) {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      this.setStatus(l.runId, 'interrupted', {
        name: 'Interrupted',
        message: `The trainer process ${how} before the run finished. Resume continues from the last checkpoint.`,
      });
    }
    l.settle(this.store.getRun(l.runId)?.status ?? 'interrupted');
  }
}
