/**
 * Owns the trainer processes of this app instance and is the one writer of their results:
 * metrics are buffered and committed in batches (and always with a checkpoint, so a checkpoint
 * row implies all metrics up to its step). Turns protocol messages into store rows and
 * ApiEvents. A trainer that exits without a terminal message (crash, SIGKILL) leaves its run
 * `interrupted`, resumable from its last checkpoint.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiEvent, RunProgress, RunStatus, SerializedError } from '../../shared/api';
import type { Store } from '../store';
import type { TrainerHandle, TrainerLauncher } from './launch';
import type { StepEvent } from '../../core/train/types';
import type { ImageRef as CoreImageRef } from '../../core/data/types';
import { trainConfigSchema } from '../../shared/schemas';
import { demoStoreHooks } from '../demo-store';
import { homePaths } from '../home';
import { launchTorch, torchImagesDir } from '../python/launch';
import { Sequencer, type ChildMessage, type DemoHookName, type ParentMessage, type TrainJob, type Unsequenced } from './protocol';

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
    const handle = this.options.launcher(this.options.trainerEnv);
    const out = new Sequencer<ParentMessage>();
    let error: SerializedError | null = null;
    let finished = false;
    let total = 0;
    const report = (state: 'running' | 'done' | 'failed', done: number) =>
      this.emit({ type: 'run:evaluation', runId, state, done, total, error });
    const done = new Promise<void>((resolve, reject) => {
      handle.onMessage((m) => {
        if (m.type === 'ready') handle.send(out.stamp({ type: 'start', job }));
        else if (m.type === 'evalProgress') {
          total = m.total;
          report('running', m.done);
        } else if (m.type === 'evaluation') {
          const outputs = m.outputs;
          this.store.db.transaction(() => {
            this.store.db.prepare('DELETE FROM outputs WHERE run_id = ?').run(runId);
            this.store.db.prepare('DELETE FROM evaluations WHERE run_id = ?').run(runId);
            this.store.putEvaluations(runId, m.rows);
            const ids = this.store.insertOutputs(outputs.map((o) => ({ runId, image: '', imagePath: o.imagePath, question: o.question, answer: o.answer, objects: o.objects, marks: o.marks })));
            const setImage = this.store.db.prepare('UPDATE outputs SET image = ? WHERE id = ?');
            for (const id of ids) setImage.run(`output:${id}`, id);
          })();
          finished = true;
          report('done', total);
        } else if (m.type === 'failed') error = m.error;
      });
      handle.onExit((code, signal) => {
        this.evaluating.delete(runId);
        if (finished) return resolve();
        error ??= { name: 'Interrupted', message: `The evaluation process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}.` };
        report('failed', 0);
        reject(Object.assign(new Error(error.message), { name: error.name }));
      });
    });
    this.evaluating.set(runId, { handle, done });
    report('running', 0);
    return done;
  }

  /**
   * Runs the built-in demo in a trainer process. Its study callbacks come back as demoHook
   * messages and are recorded by src/main/demo-store.ts here (this process writes the DB).
   */
  startDemo(task: { preset: 'quick' | 'full'; baseDir: string; outDir: string }): Promise<'done' | 'failed' | 'cancelled'> {
    if (this.demo) throw new SupervisorError('The demo is already running.', 'conflict');
    const { hooks, state } = demoStoreHooks(this.store, homePaths(this.options.home));
    const job: TrainJob = {
      runId: 0,
      config: trainConfigSchema.parse({ datasetId: 1 }),
      runDir: task.outDir,
      home: this.options.home,
      dataset: null,
      appRoot: this.options.appRoot ?? process.cwd(),
      resumeFrom: null,
      task: { kind: 'demo', ...task },
    };
    const handle = this.options.launcher(this.options.trainerEnv);
    const out = new Sequencer<ParentMessage>();
    let chain: Promise<unknown> = Promise.resolve();
    let error: SerializedError | null = null;
    let outcome: 'done' | 'failed' | 'cancelled' | null = null;
    const runOf = (args: unknown[]) => {
      const info = args[0] as { arm: { name: string }; seed: number };
      return state.runIds.get(`${info.arm.name}@${info.seed}`);
    };
    const afterHook = (hook: DemoHookName, args: unknown[]) => {
      if (hook === 'onDataset' && state.datasetId != null) this.emit({ type: 'dataset:imported', datasetId: state.datasetId });
      const runId = hook === 'onDataset' ? undefined : runOf(args);
      if (runId === undefined) return;
      if (hook === 'onRunStart') this.emit({ type: 'run:status', runId, status: 'running', error: null });
      if (hook === 'onStep') {
        const e = args[1] as StepEvent;
        this.emit({ type: 'run:metrics', runId, step: e.step, values: e.metrics });
        this.emit({ type: 'run:progress', runId, step: e.step, totalSteps: e.totalSteps, epoch: e.epoch, elapsedMs: e.elapsedMs, etaMs: e.etaMs, pairsPerSec: e.pairsPerSec, tokensPerSec: e.tokensPerSec });
      }
      if (hook === 'onRunEnd') {
        const end = args[1] as { status: RunStatus; error?: SerializedError };
        this.emit({ type: 'run:status', runId, status: end.status, error: end.error ?? null });
      }
      if (hook === 'onEvaluated') this.emit({ type: 'run:evaluation', runId, state: 'done', done: 1, total: 1, error: null });
    };
    const finished = new Promise<'done' | 'failed' | 'cancelled'>((resolve) => {
      handle.onMessage((m) => {
        if (m.type === 'ready') handle.send(out.stamp({ type: 'start', job }));
        else if (m.type === 'demoHook') {
          chain = chain.then(async () => {
            const fn = hooks[m.hook] as ((...a: unknown[]) => unknown) | undefined;
            await fn?.(...m.args);
            afterHook(m.hook, m.args);
          });
        } else if (m.type === 'demoProgress') this.emit({ type: 'demo:progress', stage: m.stage, message: m.message, fraction: m.fraction });
        else if (m.type === 'done') outcome = 'done';
        else if (m.type === 'cancelled') outcome = 'cancelled';
        else if (m.type === 'failed') {
          outcome = 'failed';
          error = m.error;
        }
      });
      handle.onExit((code, signal) => {
        void chain.then(() => {
          this.demo = null;
          if (!outcome) {
            outcome = 'failed';
            error = { name: 'Interrupted', message: `The demo process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}.` };
          }
          // Runs the demo left running (it stopped mid-arm) end with it.
          for (const runId of state.runIds.values()) {
            const run = this.store.getRun(runId);
            if (run && (run.status === 'running' || run.status === 'queued')) this.setStatus(runId, outcome === 'cancelled' ? 'cancelled' : 'failed', error);
          }
          this.store.flushMetrics();
          this.emit({ type: 'demo:finished', state: outcome, outDir: task.outDir, error });
          resolve(outcome);
        });
      });
    });
    this.demo = { handle, out, finished };
    return finished;
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

  /** Evaluate and ask load the model in the tfjs trainer; a torch run's Hugging Face model is not one it reads. */
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
    this.refuseTorch(run, 'asked');
    const job = this.runTaskJob(run, { kind: 'ask', image, question, maxTokens });
    const handle = this.options.launcher(this.options.trainerEnv);
    const out = new Sequencer<ParentMessage>();
    this.asking.add(handle);
    return new Promise<string>((resolve, reject) => {
      let answer: string | null = null;
      let error: SerializedError | null = null;
      handle.onMessage((m) => {
        if (m.type === 'ready') handle.send(out.stamp({ type: 'start', job }));
        else if (m.type === 'answer') answer = m.answer;
        else if (m.type === 'failed') error = m.error;
      });
      handle.onExit((code, signal) => {
        this.asking.delete(handle);
        if (answer !== null) resolve(answer);
        else reject(Object.assign(new Error(error?.message ?? `The model process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}.`), { name: error?.name ?? 'Error' }));
      });
    });
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
    this.live.delete(l.runId);
    this.flush();
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
