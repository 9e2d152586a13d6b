/**
 * Starting the trainer process. One entry file (./child.ts, built as out/main/trainer.js):
 * - from source (dev, tests, the CLI through tsx): node --import tsx src/main/trainer/child.ts
 * - from a build: node out/main/trainer.js
 * Electron main uses utilityProcess instead of fork (see ../index.ts); both sides speak the
 * same protocol through a TrainerHandle.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ParentMessage } from './protocol';

export interface TrainerHandle {
  readonly pid: number | undefined;
  send(message: ParentMessage): void;
  onMessage(listener: (message: ChildMessage) => void): void;
  /** code is null when killed by a signal; signal is null when the process exited itself. */
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  kill(signal?: NodeJS.Signals): void;
}

export type TrainerLauncher = (env?: Record<string, string>) => TrainerHandle;

const here = dirname(fileURLToPath(import.meta.url));

/** Where the trainer entry is, and whether it needs tsx. MDPO_TRAINER_ENTRY overrides. */
export function resolveTrainerEntry(): { path: string; needsTsx: boolean } {
  const override = process.env.MDPO_TRAINER_ENTRY;
  if (override) return { path: override, needsTsx: override.endsWith('.ts') };
  if (import.meta.url.endsWith('.ts')) return { path: join(here, 'child.ts'), needsTsx: true };
  // Bundled: this code sits in out/main/ or in a chunk folder below it.
  for (const candidate of [join(here, 'trainer.js'), join(here, '..', 'trainer.js')]) {
    if (existsSync(candidate)) return { path: candidate, needsTsx: false };
  }
  throw new Error(`The trainer entry (trainer.js) was not found next to ${here}. Run \`npm run build\`.`);
}

/** child_process.fork launcher for browser mode and the CLI. */
export const forkTrainer: TrainerLauncher = (env = {}) => {
  const entry = resolveTrainerEntry();
  const execArgv = entry.needsTsx ? ['--import', import.meta.resolve('tsx')] : [];
  const child = fork(entry.path, [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  return {
    pid: child.pid,
    send: (m) => {
      if (child.connected) child.send(m);
    },
    onMessage: (listener) => child.on('message', (m) => listener(m as ChildMessage)),
    onExit: (listener) => child.on('exit', (code, signal) => listener(code, signal)),
    kill: (signal = 'SIGTERM') => void child.kill(signal),
  };
};
