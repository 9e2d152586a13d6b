/**
 * The built-in demo inside the trainer process: src/core/demo's runDemo. Its StudyHooks
 * callbacks are relayed to the parent (which records them with src/main/demo-store.ts, the
 * one DB writer) and its progress is sent as demoProgress.
 */
import { progressLine } from '../../core/demo/progress';
import { runDemo } from '../../core/demo/run';
import type { StudyHooks } from '../../core/demo/study';
import { CancelledError, DEMO_HOOKS, type Engine } from './protocol';

export const demoEngine: Engine = async (job, hooks) => {
  if (job.task?.kind !== 'demo') throw new Error('demoEngine needs a demo task');
  const { preset, baseDir, outDir } = job.task;
  const relay = Object.fromEntries(DEMO_HOOKS.map((name) => [name, (...args: unknown[]) => hooks.demoHook(name, args)])) as StudyHooks;
  const result = await runDemo(
    { baseDir, outDir, preset, command: `mDPO Studio demo (${preset})` },
    {
      ...relay,
      onProgress: (e) => hooks.demoProgress(e.phase, progressLine(e), e.total > 0 ? e.done / e.total : null),
      onLog: (line) => hooks.log(line),
      signal: hooks.signal,
    },
  );
  if (hooks.signal.aborted) throw new CancelledError('Demo cancelled.');
  return { step: 0, result: { arms: result.results.arms.length } };
};
