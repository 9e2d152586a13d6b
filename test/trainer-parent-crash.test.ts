/**
 * The whole app dies (SIGKILL of the process that owns the trainer and writes the store): the
 * orphaned trainer stops by itself, and the next start finds the run `interrupted`, with every
 * metric up to its last checkpoint, and resumes it from there.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dispatch } from '../src/main/api/dispatch';
import { pidAlive } from '../src/main/store';
import { openTestBackend, tempDir } from './api-fixtures';

const tmp = tempDir('mdpo-crash-');
afterAll(() => tmp.cleanup());

describe('app crash while training', () => {
  it('the trainer exits with its owner; the next start marks the run interrupted and resumes it', async () => {
    const home = join(tmp.dir, 'home');
    const host = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'trainer-crash-host.ts')], {
      env: { ...process.env, MDPO_HOME: home },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const trainerPid = await new Promise<number>((resolve, reject) => {
      let buffer = '';
      host.stdout.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const m = /PROGRESS (\d+) (\d+)\n/.exec(buffer);
        if (m && Number(m[1]) >= 7) resolve(Number(m[2]));
        buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
      });
      host.on('exit', (code) => reject(new Error(`host exited early (${code})`)));
    });
    host.kill('SIGKILL');
    // The orphan notices its IPC channel closed and exits (no one would record its work).
    const t0 = Date.now();
    while (pidAlive(trainerPid) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(pidAlive(trainerPid)).toBe(false);

    const backend = openTestBackend(home, 5);
    expect(backend.interrupted).toEqual([1]);
    const run = backend.store.getRun(1)!;
    expect(run.status).toBe('interrupted');
    const last = backend.store.latestCheckpoint(1)!.step;
    expect(last).toBeGreaterThanOrEqual(6);
    // Every metric up to the checkpoint is there (committed with it).
    const before = backend.store.readMetrics(1, { names: ['loss'] })[0]!.steps;
    expect(before.slice(0, last)).toEqual(Array.from({ length: last }, (_, i) => i + 1));

    const steps: number[] = [];
    backend.subscribe((e) => e.type === 'run:progress' && steps.push(e.step));
    const resumed = await dispatch(backend.handlers, 'runs:resume', { runId: 1 });
    expect(resumed.ok).toBe(true);
    const t1 = Date.now();
    while (steps.length < 3 && Date.now() - t1 < 20_000) await new Promise((r) => setTimeout(r, 20));
    await dispatch(backend.handlers, 'runs:cancel', { runId: 1 });
    expect(await backend.supervisor.waitFor(1)).toBe('cancelled');
    expect(steps[0]).toBe(last + 1);
    const after = backend.store.readMetrics(1, { names: ['loss'] })[0]!.steps;
    expect(after).toEqual(Array.from({ length: after.length }, (_, i) => i + 1));
    await backend.close();
  });
});
