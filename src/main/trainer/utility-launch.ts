/** Electron's launcher: the same trainer entry as a utilityProcess (Electron main only). */
import { utilityProcess } from 'electron';
import type { ChildMessage } from './protocol';
import type { TrainerLauncher } from './launch';

export function utilityTrainer(entry: string): TrainerLauncher {
  return (env = {}) => {
    const child = utilityProcess.fork(entry, [], {
      env: { ...process.env, ...env },
      serviceName: 'mDPO Studio trainer',
      stdio: 'inherit',
    });
    return {
      get pid() {
        return child.pid;
      },
      send: (m) => child.postMessage(m),
      onMessage: (listener) => child.on('message', (m: unknown) => listener(m as ChildMessage)),
      // utilityProcess reports only a code; a kill shows as a non-zero code.
      onExit: (listener) => child.on('exit', (code) => listener(code, null)),
      kill: () => void child.kill(),
    };
  };
}
