/**
 * Answer jobs (issue 17), inside the trainer process: one model (a base checkpoint, optionally
 * with a run's adapter) answers a list of probe items, one `itemAnswer` message per item as soon
 * as it is written, so the parent stores each at once and a crash loses at most the item in
 * flight. Cancel (the abort signal) stops between items.
 */
import { initBackend, type BackendName } from '../../core/backend';
import { openAnswerer } from '../../core/eval/probe-answer';
import { CancelledError, type Engine } from './protocol';

export const answersEngine: Engine = async (job, hooks) => {
  if (job.task?.kind !== 'answers') throw new Error('answersEngine needs an answers task');
  const { baseDir, adapterDir, settings, items } = job.task;
  const backend = await initBackend(job.config.backend as BackendName | 'auto');
  hooks.log(`answering ${items.length} item(s) on ${backend.name}`);
  const answerer = await openAnswerer(baseDir, adapterDir, settings);
  try {
    for (const item of items) {
      if (hooks.signal.aborted) throw new CancelledError('Cancelled by the user.');
      const text = await answerer.answer(item.image, item.question, item.key);
      hooks.itemAnswer(item.itemId, text);
    }
  } finally {
    answerer.dispose();
  }
  return { step: items.length, result: {} };
};
