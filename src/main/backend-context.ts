/**
 * Opens everything the three hosts share: the data folder, the store (runs left live by a dead
 * process become `interrupted` here), the trainer supervisor and the API handlers.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ApiEvent, AppInfo } from '../shared/api';
import { createHandlers, type HandlerContext, type Handlers } from './api/handlers';
import { readPackageInfo } from './package-info';
import { ensureHome } from './home';
import { Store } from './store';
import { forkTrainer, type TrainerLauncher } from './trainer/launch';
import { Supervisor, type SupervisorOptions } from './trainer/supervisor';

export interface BackendOptions {
  home: string;
  mode: AppInfo['mode'];
  launcher?: TrainerLauncher;
  /** Starts the torch engine for torch runs (default: src/main/python/launch.ts). */
  torchLauncher?: SupervisorOptions['torchLauncher'];
  appRoot?: string;
  pickPath?: HandlerContext['pickPath'];
  trainerEnv?: Record<string, string>;
  autoStart?: boolean;
}

export interface Backend {
  home: string;
  store: Store;
  supervisor: Supervisor;
  handlers: Handlers;
  /** Runs found interrupted when the store was opened. */
  interrupted: number[];
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** Stops trainers (their runs become interrupted) and closes the store. */
  close(): Promise<void>;
}

/** The install folder: two levels above this file, in src/main/ and in out/main/ alike. */
export function defaultAppRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      readPackageInfo(dir);
      return dir;
    } catch {
      dir = join(dir, '..');
    }
  }
  return process.cwd();
}

export function openBackend(options: BackendOptions): Backend {
  const paths = ensureHome(options.home);
  const appRoot = options.appRoot ?? defaultAppRoot();
  const store = Store.open(paths.db, { appVersion: readPackageInfo(appRoot).version });
  const interrupted = store.recoverInterrupted();
  const supervisor = new Supervisor(store, {
    home: options.home,
    launcher: options.launcher ?? forkTrainer,
    appRoot,
    trainerEnv: options.trainerEnv,
    torchLauncher: options.torchLauncher,
  });
  const { handlers } = createHandlers({
    store,
    supervisor,
    home: options.home,
    appRoot,
    mode: options.mode,
    pickPath: options.pickPath,
    autoStart: options.autoStart,
    launcher: options.launcher ?? forkTrainer,
    trainerEnv: options.trainerEnv,
  });
  return {
    home: options.home,
    store,
    supervisor,
    handlers,
    interrupted,
    subscribe: (listener) => supervisor.subscribe(listener),
    async close() {
      await supervisor.shutdown();
      store.close();
    },
  };
}
