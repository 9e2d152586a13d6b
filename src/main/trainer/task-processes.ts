/**
 * Short-lived trainer processes that work on a finished run's model: evaluation (the parent
 * writes its rows and outputs, replacing the run's previous ones) and one greedy answer. Split
 * from ./supervisor.ts, which checks the run, builds the job and tracks the handles.
 */
import type { ApiEvent, RunStatus, SerializedError } from '../../shared/api';
import type { Store } from '../store';
import type { TrainerHandle } from './launch';
import { Sequencer, type ParentMessage, type TrainJob } from './protocol';

/** What these processes need from the supervisor. */
export interface ProcessContext {
  store: Store;
  home: string;
  appRoot: string;
  /** Starts a tfjs trainer process. */
  launch: () => TrainerHandle;
  emit: (event: ApiEvent) => void;
  setStatus: (runId: number, status: RunStatus, error: SerializedError | null) => void;
}

/** Evaluates run `runId` with `job`; `done` settles when the process has exited; `onEnd` runs first. */
export function evaluateProcess(ctx: ProcessContext, runId: number, job: TrainJob, onEnd: () => void): { handle: TrainerHandle; done: Promise<void> } {
  const handle = ctx.launch();
  const out = new Sequencer<ParentMessage>();
  let error: SerializedError | null = null;
  let finished = false;
  let total = 0;
  const report = (state: 'running' | 'done' | 'failed', done: number) =>
    ctx.emit({ type: 'run:evaluation', runId, state, done, total, error });
  const done = new Promise<void>((resolve, reject) => {
    handle.onMessage((m) => {
      if (m.type === 'ready') handle.send(out.stamp({ type: 'start', job }));
      else if (m.type === 'evalProgress') {
        total = m.total;
        report('running', m.done);
      } else if (m.type === 'evaluation') {
        const outputs = m.outputs;
        ctx.store.db.transaction(() => {
          ctx.store.db.prepare('DELETE FROM outputs WHERE run_id = ?').run(runId);
          ctx.store.db.prepare('DELETE FROM evaluations WHERE run_id = ?').run(runId);
          ctx.store.putEvaluations(runId, m.rows);
          const ids = ctx.store.insertOutputs(outputs.map((o) => ({ runId, image: '', imagePath: o.imagePath, question: o.question, answer: o.answer, objects: o.objects, marks: o.marks })));
          const setImage = ctx.store.db.prepare('UPDATE outputs SET image = ? WHERE id = ?');
          for (const id of ids) setImage.run(`output:${id}`, id);
        })();
        finished = true;
        report('done', total);
      } else if (m.type === 'failed') error = m.error;
    });
    handle.onExit((code, signal) => {
      onEnd();
      if (finished) return resolve();
      error ??= { name: 'Interrupted', message: `The evaluation process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}.` };
      report('failed', 0);
      reject(Object.assign(new Error(error.message), { name: error.name }));
    });
  });
  report('running', 0);
  return { handle, done };
}

/** One answer from `job` (task ask); `onEnd` runs when the process has exited. */
export function askProcess(ctx: ProcessContext, job: TrainJob, onEnd: () => void): { handle: TrainerHandle; answer: Promise<string> } {
  const handle = ctx.launch();
  const out = new Sequencer<ParentMessage>();
  const answer = new Promise<string>((resolve, reject) => {
    let text: string | null = null;
    let error: SerializedError | null = null;
    handle.onMessage((m) => {
      if (m.type === 'ready') handle.send(out.stamp({ type: 'start', job }));
      else if (m.type === 'answer') text = m.answer;
      else if (m.type === 'failed') error = m.error;
    });
    handle.onExit((code, signal) => {
      onEnd();
      if (text !== null) resolve(text);
      else reject(Object.assign(new Error(error?.message ?? `The model process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}.`), { name: error?.name ?? 'Error' }));
    });
  });
  return { handle, answer };
}
