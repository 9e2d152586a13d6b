import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiEvent } from '../src/shared/api';
import { trainConfigSchema } from '../src/shared/schemas';
import { Store } from '../src/main/store';
import { forkTrainer } from '../src/main/trainer/launch';
import { Supervisor } from '../src/main/trainer/supervisor';
import { EtaTracker } from '../src/main/trainer/eta';
import { Sequencer, type ChildMessage } from '../src/main/trainer/protocol';

const FIXTURE = resolve(__dirname, 'trainer-fixture-engine.ts');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function setup(stepMs = 20) {
  const home = mkdtempSync(join(tmpdir(), 'mdpo-trainer-'));
  dirs.push(home);
  const store = Store.open(join(home, 'studio.db'));
  const events: ApiEvent[] = [];
  const supervisor = new Supervisor(store, {
    home,
    launcher: forkTrainer,
    emit: (e) => events.push(e),
    trainerEnv: { MDPO_TRAINER_ENGINE: FIXTURE, FIXTURE_STEP_MS: String(stepMs) },
  });
  const newRun = (overrides: Record<string, unknown> = {}) => {
    const config = trainConfigSchema.parse({ datasetId: 1, maxSteps: 12, checkpointEvery: 4, ...overrides });
    return store.insertRun({ name: 'r', datasetId: null, variant: config.variant, config, runDir: join(home, 'runs', String(Math.random())) });
  };
  return { home, store, events, supervisor, newRun };
}

const until = async (cond: () => boolean, ms = 20_000) => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('trainer protocol (real child process)', () => {
  it('sequence numbers: gaps and replays are detected', () => {
    const gaps: [number, number][] = [];
    const s = new Sequencer<ChildMessage>((e, g) => gaps.push([e, g]));
    const a = s.stamp({ type: 'ready', pid: 1 });
    const b = s.stamp({ type: 'log', level: 'info', message: 'x' });
    expect([a.seq, b.seq]).toEqual([1, 2]);
    expect(s.accept(a)).toBe(true);
    expect(s.accept({ seq: 3 })).toBe(true);
    expect(s.accept({ seq: 2 })).toBe(false);
    expect(gaps).toEqual([[2, 3], [4, 2]]);
  });

  it('ETA comes from the mean of recent step times, first step excluded', () => {
    let t = 0;
    const eta = new EtaTracker(20, () => t);
    t = 5000; // warm-up step: ignored
    expect(eta.step(1, 11, 0, 4, 100).etaMs).toBeNull();
    t += 100;
    const p = eta.step(2, 11, 0, 4, 100);
    expect(p.etaMs).toBe(900);
    expect(p.pairsPerSec).toBe(40);
    expect(p.tokensPerSec).toBe(1000);
  });

  it('runs to completion: metrics, checkpoints, progress with ETA, status events', async () => {
    const { store, events, supervisor, newRun } = setup();
    const id = newRun();
    supervisor.start(id);
    expect(await supervisor.waitFor(id)).toBe('completed');
    const run = store.getRun(id)!;
    expect(run.step).toBe(12);
    expect(run.totalSteps).toBe(12);
    expect(run.backend).toBe('fixture');
    expect(store.listCheckpoints(id).map((c) => c.step)).toEqual([4, 8, 12]);
    expect(store.readMetrics(id, { names: ['loss'] })[0]!.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const progress = events.filter((e) => e.type === 'run:progress');
    expect(progress).toHaveLength(12);
    expect(progress.at(-1)).toMatchObject({ step: 12, totalSteps: 12, etaMs: 0 });
    expect(events.filter((e) => e.type === 'run:status').map((e) => (e as { status: string }).status)).toEqual(['running', 'completed']);
    store.close();
  });

  it('pause, resume and cancel', async () => {
    const { store, events, supervisor, newRun } = setup(40);
    const id = newRun({ maxSteps: 200 });
    supervisor.start(id);
    await until(() => events.some((e) => e.type === 'run:progress' && e.step >= 2));
    supervisor.pause(id);
    await until(() => store.getRun(id)!.status === 'paused');
    const pausedAt = store.getRun(id)!.step;
    await new Promise((r) => setTimeout(r, 300));
    // Nothing moves while paused.
    expect(store.readMetrics(id, { names: ['loss'] })[0]!.steps.at(-1)).toBe(pausedAt);
    supervisor.resume(id);
    await until(() => store.getRun(id)!.status === 'running' && events.some((e) => e.type === 'run:progress' && e.step > pausedAt + 1));
    supervisor.cancel(id);
    expect(await supervisor.waitFor(id)).toBe('cancelled');
    expect(store.getRun(id)!.finishedAt).not.toBeNull();
    store.close();
  });

  it('a failing engine reports {name, message, stack} and the run is failed', async () => {
    const { store, supervisor, newRun } = setup();
    const id = newRun({ seed: 666 });
    supervisor.start(id);
    expect(await supervisor.waitFor(id)).toBe('failed');
    const error = store.getRun(id)!.error!;
    expect(error.name).toBe('RangeError');
    expect(error.message).toBe('Loss is NaN at step 3');
    expect(error.stack).toContain('trainer-fixture-engine');
    store.close();
  });

  it('SIGKILL mid-run: interrupted, resumed from the last checkpoint, same result as uninterrupted', async () => {
    const a = setup(30);
    const reference = a.newRun({ maxSteps: 16 });
    a.supervisor.start(reference);
    expect(await a.supervisor.waitFor(reference)).toBe('completed');
    const expected = a.store.readMetrics(reference);

    const killed = a.newRun({ maxSteps: 16 });
    a.supervisor.start(killed);
    await until(() => a.events.some((e) => e.type === 'run:progress' && e.runId === killed && e.step >= 10));
    const pid = a.store.getRun(killed)!.trainerPid!;
    process.kill(pid, 'SIGKILL');
    expect(await a.supervisor.waitFor(killed)).toBe('interrupted');
    expect(a.store.getRun(killed)!.error!.message).toContain('SIGKILL');
    a.store.close();

    // "Next start": a new store connection and supervisor, as after an app restart.
    const store = Store.open(join(a.home, 'studio.db'));
    expect(store.recoverInterrupted()).toEqual([]); // already marked by the live parent
    const last = store.latestCheckpoint(killed)!.step;
    expect(last).toBe(8);
    const supervisor = new Supervisor(store, { home: a.home, launcher: forkTrainer, trainerEnv: { MDPO_TRAINER_ENGINE: FIXTURE, FIXTURE_STEP_MS: '5' } });
    const steps: number[] = [];
    supervisor.subscribe((e) => e.type === 'run:progress' && steps.push(e.step));
    supervisor.resume(killed);
    expect(await supervisor.waitFor(killed)).toBe('completed');
    expect(steps[0]).toBe(last + 1);
    expect(store.getRun(killed)!.step).toBe(16);
    expect(store.readMetrics(killed)).toEqual(expected);
    store.close();
  });
});
