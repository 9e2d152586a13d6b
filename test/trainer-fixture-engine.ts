/**
 * A deterministic stand-in engine for protocol/lifecycle tests (loaded by the trainer child
 * through MDPO_TRAINER_ENGINE). It keeps a running state x, logs loss = f(x, step), writes
 * checkpoints atomically (tmp + rename) and resumes from them, so "kill -9 then resume" must
 * give exactly the uninterrupted numbers. STEP_MS slows it down so tests can act mid-run;
 * seed 666 fails at step 3 (error reporting).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Engine } from '../src/main/trainer/protocol';
import { CancelledError } from '../src/main/trainer/protocol';

const STEP_MS = Number(process.env.FIXTURE_STEP_MS ?? '20');

export const engine: Engine = async (job, hooks) => {
  const totalSteps = job.config.maxSteps ?? 10;
  let x = job.config.seed + 1;
  let step = 0;
  if (job.resumeFrom) {
    const state = JSON.parse(readFileSync(join(job.resumeFrom.path, 'state.json'), 'utf8')) as { x: number; step: number };
    x = state.x;
    step = state.step;
  }
  hooks.started({ totalSteps, backend: 'fixture', startStep: step });
  while (step < totalSteps) {
    await hooks.waitIfPaused(step);
    if (hooks.signal.aborted) throw new CancelledError('cancelled');
    await new Promise((r) => setTimeout(r, STEP_MS));
    x = (x * 1103515245 + 12345) % 2147483648;
    step++;
    if (job.config.seed === 666 && step === 3) throw new RangeError('Loss is NaN at step 3');
    hooks.step({ step, totalSteps, epoch: step / totalSteps, metrics: { loss: x / 2147483648, 'rewards/accuracies': step / totalSteps }, pairs: 4, tokens: 100 });
    if (job.config.checkpointEvery > 0 && (step % job.config.checkpointEvery === 0 || step === totalSteps)) {
      const dir = join(job.runDir, `checkpoint-${step}`);
      const tmp = `${dir}.tmp`;
      mkdirSync(tmp, { recursive: true });
      writeFileSync(join(tmp, 'state.json'), JSON.stringify({ x, step }));
      renameSync(tmp, dir);
      hooks.checkpoint(step, dir);
    }
  }
  return { step, result: { final_x: x } };
};
