/**
 * Answer jobs: every item of an evaluation set answered by one model (a run's base checkpoint,
 * or a completed run = base + its adapter), in a trainer process (src/main/trainer/answers.ts). This
 * process is the single writer: each answer is stored the moment it arrives, under a key made
 * of the model's and adapter's fingerprints and the generation settings. Hence:
 * - reuse: a job whose key already has answers generates only the missing items (none when
 *   nothing changed); `reused` counts the rest;
 * - resume: after a crash or a cancel, starting the same job again skips the finished items;
 * - one trainer at a time (jobs queue), progress with an ETA, cancel between items.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiEvent, RunStatus } from '../../shared/api';
import type { GenerationSettings } from '../../shared/inspect';
import { BUILTIN_BASE, type TrainConfig } from '../../shared/schemas';
import type { Store } from '../store';
import type { InspectStore, JobRow } from '../store/inspect';
import { PINNED_BASE, baseModelDir } from '../trainer/base-model';
import { EtaTracker } from '../trainer/eta';
import type { TrainerLauncher } from '../trainer/launch';
import { Sequencer, type ParentMessage, type TrainJob } from '../trainer/protocol';
import { answerKey, folderFingerprint } from './fingerprint';

export interface AnswerModel {
  key: string;
  label: string;
  kind: 'base' | 'run';
  runId: number;
}

export interface AnswerJobsOptions {
  home: string;
  appRoot: string;
  launcher: TrainerLauncher;
  emit: (event: ApiEvent) => void;
  trainerEnv?: Record<string, string>;
}

export class AnswerJobError extends Error {
  override name = 'AnswerJobError';
  constructor(
    message: string,
    readonly code: 'not_found' | 'conflict' | 'bad_request',
    readonly field?: string,
  ) {
    super(message);
  }
}

/**
 * The base checkpoint a run computes with: its own pinned copy of the built-in base when it has
 * one (../trainer/base-model.ts), else the shipped base or the user's folder.
 */
export function baseDirOf(run: { config: TrainConfig; runDir: string }, appRoot: string): string {
  const pinned = join(run.runDir, PINNED_BASE);
  if (run.config.baseModel === BUILTIN_BASE && existsSync(join(pinned, 'config.json'))) return pinned;
  return baseModelDir(run.config, appRoot);
}

interface Queued {
  jobId: number;
  answerKey: string;
  task: Extract<NonNullable<TrainJob['task']>, { kind: 'answers' }>;
  config: TrainConfig;
  runId: number;
}

export class AnswerJobs {
  private readonly queue: Queued[] = [];
  private current: { jobId: number; cancel: () => void; eta: EtaTracker } | null = null;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(
    private readonly store: Store,
    private readonly inspect: InspectStore,
    private readonly options: AnswerJobsOptions,
  ) {}

  /** Models that can answer: every completed run with an adapter, and the base of each. */
  models(): AnswerModel[] {
    const out: AnswerModel[] = [];
    const bases = new Set<string>();
    for (const run of [...this.store.listRuns()].sort((x, y) => x.id - y.id)) {
      const base = baseDirOf(run, this.options.appRoot);
      if (!existsSync(join(base, 'config.json'))) continue;
      if (!bases.has(base)) {
        bases.add(base);
        const name = run.config.baseModel === BUILTIN_BASE ? 'built-in base' : base.split(/[\\/]/).filter(Boolean).pop()!;
        out.push({ key: `base:${run.id}`, label: `base (${name})`, kind: 'base', runId: run.id });
      }
      if (run.status === 'completed' && existsSync(join(run.runDir, 'adapter', 'adapter_config.json'))) {
        out.push({ key: `run:${run.id}`, label: `${run.name} (run ${run.id})`, kind: 'run', runId: run.id });
      }
    }
    return out;
  }

  /** Resolves a model key to its folders; errors name the field. */
  private resolve(key: string, field: string): { config: TrainConfig; runId: number; baseDir: string; adapterDir: string | null; label: string } {
    const m = /^(base|run):(\d+)$/.exec(key);
    if (!m) throw new AnswerJobError(`Unknown model "${key}"; expected base:<runId> or run:<runId> (see answers:models).`, 'bad_request', field);
    const run = this.store.getRun(Number(m[2]));
    if (!run) throw new AnswerJobError(`Run ${m[2]} does not exist.`, 'not_found', field);
    const baseDir = baseDirOf(run, this.options.appRoot);
    if (!existsSync(join(baseDir, 'config.json'))) throw new AnswerJobError(`The base model of run ${run.id} is gone: no checkpoint at ${baseDir}.`, 'conflict', field);
    if (m[1] === 'base') return { config: run.config, runId: run.id, baseDir, adapterDir: null, label: `base of run ${run.id}` };
    const adapterDir = join(run.runDir, 'adapter');
    if (run.status !== 'completed' || !existsSync(join(adapterDir, 'adapter_config.json'))) {
      throw new AnswerJobError(`Run ${run.id} is ${run.status} and has no adapter to answer with; pick a completed run.`, 'conflict', field);
    }
    return { config: run.config, runId: run.id, baseDir, adapterDir, label: `${run.name} (run ${run.id})` };
  }

  /** Creates one job per model; each answers only the items it has no stored answer for. */
  async start(setId: number, modelKeys: readonly string[], settings: GenerationSettings): Promise<JobRow[]> {
    if (!this.inspect.getSet(setId)) throw new AnswerJobError(`Evaluation set ${setId} does not exist.`, 'not_found', 'setId');
    const total = this.inspect.countItems(setId);
    if (total === 0) throw new AnswerJobError(`Evaluation set ${setId} has no valid items to answer.`, 'bad_request', 'setId');
    const resolved = modelKeys.map((k, i) => ({ key: k, ...this.resolve(k, `models.${i}`) }));
    const jobs: JobRow[] = [];
    for (const r of resolved) {
      const live = this.inspect.listJobs(setId).find((j) => j.modelKey === r.key && (j.status === 'queued' || j.status === 'running'));
      if (live) {
        jobs.push(live);
        continue;
      }
      const modelFingerprint = await folderFingerprint(r.baseDir);
      const adapterFingerprint = r.adapterDir ? await folderFingerprint(r.adapterDir) : null;
      const key = answerKey(modelFingerprint, adapterFingerprint, settings);
      const pending = this.inspect.pendingItems(setId, key);
      const jobId = this.inspect.insertJob({
        setId,
        modelKey: r.key,
        modelLabel: r.label,
        runId: r.runId,
        modelFingerprint,
        adapterFingerprint,
        settings,
        answerKey: key,
        total,
        ownerPid: process.pid,
      });
      const reused = total - pending.length;
      this.inspect.updateJob(jobId, { reused, done: reused });
      if (pending.length === 0) {
        this.inspect.updateJob(jobId, { status: 'completed', finishedAt: new Date().toISOString(), ownerPid: null });
      } else {
        this.queue.push({
          jobId,
          answerKey: key,
          runId: r.runId,
          config: r.config,
          task: {
            kind: 'answers',
            baseDir: r.baseDir,
            adapterDir: r.adapterDir,
            settings,
            items: pending.map((p) => ({ itemId: p.id, key: p.key, image: p.imageRef, question: p.question })),
          },
        });
      }
      const job = this.inspect.getJob(jobId)!;
      this.report(job);
      jobs.push(job);
    }
    this.pump();
    return jobs.map((j) => this.inspect.getJob(j.id)!);
  }

  /** Cancels a queued or running job; its finished answers stay (a later start resumes). */
  cancel(jobId: number): JobRow {
    const job = this.inspect.getJob(jobId);
    if (!job) throw new AnswerJobError(`Answer job ${jobId} does not exist.`, 'not_found', 'jobId');
    const q = this.queue.findIndex((x) => x.jobId === jobId);
    if (q >= 0) {
      this.queue.splice(q, 1);
      this.finish(jobId, 'cancelled', null);
    } else if (this.current?.jobId === jobId) this.current.cancel();
    else if (job.status === 'queued' || job.status === 'running') this.finish(jobId, 'interrupted', null);
    else throw new AnswerJobError(`Answer job ${jobId} is ${job.status}; only a queued or running job can be cancelled.`, 'conflict', 'jobId');
    return this.inspect.getJob(jobId)!;
  }

  /** The job with its live ETA. */
  job(jobId: number): JobRow | null {
    const j = this.inspect.getJob(jobId);
    if (j && this.current?.jobId === jobId) j.etaMs = this.current.eta.step(j.done, j.total, 0, 0, 0).etaMs;
    return j;
  }

  /** Resolves when no job is queued or running (tests, CLI). */
  idle(): Promise<void> {
    if (!this.current && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private report(job: JobRow): void {
    this.options.emit({ type: 'answers:progress', jobId: job.id, setId: job.setId, modelKey: job.modelKey, status: job.status, done: job.done, total: job.total, etaMs: job.etaMs, error: job.error });
  }

  private finish(jobId: number, status: 'completed' | 'failed' | 'cancelled' | 'interrupted', error: { name: string; message: string } | null): void {
    this.inspect.updateJob(jobId, { status, finishedAt: new Date().toISOString(), ownerPid: null, error });
    this.report(this.inspect.getJob(jobId)!);
  }

  private pump(): void {
    if (this.current) return;
    const next = this.queue.shift();
    if (!next) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.run(next);
  }

  private run(q: Queued): void {
    const job: TrainJob = {
      runId: q.runId,
      config: q.config,
      runDir: '',
      home: this.options.home,
      dataset: null,
      appRoot: this.options.appRoot,
      resumeFrom: null,
      task: q.task,
    };
    const handle = this.options.launcher(this.options.trainerEnv);
    const out = new Sequencer<ParentMessage>();
    const eta = new EtaTracker(20);
    let done = this.inspect.getJob(q.jobId)!.done;
    let error: { name: string; message: string } | null = null;
    let terminal: RunStatus | null = null;
    this.current = { jobId: q.jobId, eta, cancel: () => handle.send(out.stamp({ type: 'cancel' })) };
    this.inspect.updateJob(q.jobId, { status: 'running' });
    handle.onMessage((m) => {
      if (m.type === 'ready') handle.send(out.stamp({ type: 'start', job }));
      else if (m.type === 'itemAnswer') {
        this.inspect.putAnswer(m.itemId, q.answerKey, m.answer);
        done++;
        this.inspect.updateJob(q.jobId, { done });
        const j = this.inspect.getJob(q.jobId)!;
        j.etaMs = eta.step(done, j.total, 0, 0, 0).etaMs;
        this.report(j);
      } else if (m.type === 'done') terminal = 'completed';
      else if (m.type === 'cancelled') terminal = 'cancelled';
      else if (m.type === 'failed') {
        terminal = 'failed';
        error = { name: m.error.name, message: m.error.message };
      }
    });
    handle.onExit((code, signal) => {
      this.current = null;
      if (terminal === 'completed' || terminal === 'cancelled') this.finish(q.jobId, terminal, null);
      else this.finish(q.jobId, 'failed', error ?? { name: 'Interrupted', message: `The answer process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}.` });
      this.pump();
    });
  }
}
