/**
 * The built-in demo in a trainer process (src/core/demo). Its study callbacks come back as
 * demoHook messages and are recorded here by src/main/demo-store.ts (the parent writes the DB),
 * with the matching ApiEvents. Split from ./supervisor.ts, which owns the process.
 */
import type { RunStatus, SerializedError } from '../../shared/api';
import type { StepEvent } from '../../core/train/types';
import { trainConfigSchema } from '../../shared/schemas';
import { demoStoreHooks } from '../demo-store';
import { homePaths } from '../home';
import type { TrainerHandle } from './launch';
import { Sequencer, type DemoHookName, type ParentMessage, type TrainJob } from './protocol';
import type { ProcessContext } from './task-processes';

export type DemoOutcome = 'done' | 'failed' | 'cancelled';

export interface DemoProcess {
  handle: TrainerHandle;
  out: Sequencer<ParentMessage>;
  finished: Promise<DemoOutcome>;
}

/** Starts the demo; `onEnd` runs when its process has exited, before the store is settled. */
export function startDemoProcess(ctx: ProcessContext, task: { preset: 'quick' | 'full'; baseDir: string; outDir: string }, onEnd: () => void): DemoProcess {
  const { hooks, state } = demoStoreHooks(ctx.store, homePaths(ctx.home));
  const job: TrainJob = {
    runId: 0,
    config: trainConfigSchema.parse({ datasetId: 1 }),
    runDir: task.outDir,
    home: ctx.home,
    dataset: null,
    appRoot: ctx.appRoot,
    resumeFrom: null,
    task: { kind: 'demo', ...task },
  };
  const handle = ctx.launch();
  const out = new Sequencer<ParentMessage>();
  let chain: Promise<unknown> = Promise.resolve();
  let error: SerializedError | null = null;
  let outcome: 'done' | 'failed' | 'cancelled' | null = null;
  const runOf = (args: unknown[]) => {
    const info = args[0] as { arm: { name: string }; seed: number };
    return state.runIds.get(`${info.arm.name}@${info.seed}`);
  };
  const afterHook = (hook: DemoHookName, args: unknown[]) => {
    if (hook === 'onDataset' && state.datasetId != null) ctx.emit({ type: 'dataset:imported', datasetId: state.datasetId });
    const runId = hook === 'onDataset' ? undefined : runOf(args);
    if (runId === undefined) return;
    if (hook === 'onRunStart') ctx.emit({ type: 'run:status', runId, status: 'running', error: null });
    if (hook === 'onStep') {
      const e = args[1] as StepEvent;
      ctx.emit({ type: 'run:metrics', runId, step: e.step, values: e.metrics });
      ctx.emit({ type: 'run:progress', runId, step: e.step, totalSteps: e.totalSteps, epoch: e.epoch, elapsedMs: e.elapsedMs, etaMs: e.etaMs, pairsPerSec: e.pairsPerSec, tokensPerSec: e.tokensPerSec });
    }
    if (hook === 'onRunEnd') {
      const end = args[1] as { status: RunStatus; error?: SerializedError };
      ctx.emit({ type: 'run:status', runId, status: end.status, error: end.error ?? null });
    }
    if (hook === 'onEvaluated') ctx.emit({ type: 'run:evaluation', runId, state: 'done', done: 1, total: 1, error: null });
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
      } else if (m.type === 'demoProgress') ctx.emit({ type: 'demo:progress', stage: m.stage, message: m.message, fraction: m.fraction });
      else if (m.type === 'done') outcome = 'done';
      else if (m.type === 'cancelled') outcome = 'cancelled';
      else if (m.type === 'failed') {
        outcome = 'failed';
        error = m.error;
      }
    });
    handle.onExit((code, signal) => {
      void chain.then(() => {
        onEnd();
        if (!outcome) {
          outcome = 'failed';
          error = { name: 'Interrupted', message: `The demo process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}.` };
        }
        // Runs the demo left running (it stopped mid-arm) end with it.
        for (const runId of state.runIds.values()) {
          const run = ctx.store.getRun(runId);
          if (run && (run.status === 'running' || run.status === 'queued')) ctx.setStatus(runId, outcome === 'cancelled' ? 'cancelled' : 'failed', error);
        }
        ctx.store.flushMetrics();
        ctx.emit({ type: 'demo:finished', state: outcome, outDir: task.outDir, error });
        resolve(outcome);
      });
    });
  });
  return { handle, out, finished };
}
