// TEST STAND-IN for the `electron` module, written for test/desktop-boot.test.ts. It is NOT
// Electron: it implements only the part of Electron's main-process API that out/main/index.js
// uses (app, BrowserWindow, ipcMain, dialog, shell, utilityProcess), records what the app does
// with it, and lets the test drive the app (ready, window events, IPC calls, quit).
// utilityProcess.fork starts a real Node child (child_process.fork) on the given entry, so the
// trainer the app launches really runs. Loaded in place of 'electron' by
// ./electron-standin-register.mjs.
import { fork } from 'node:child_process';
import { EventEmitter } from 'node:events';

/** Everything the app did, for the test to inspect. */
export const standin = {
  windows: [],
  /** channel -> listener, from ipcMain.handle */
  handlers: new Map(),
  forks: [],
  dialogs: [],
  /** dialog.showErrorBox calls: [title, content] */
  errorBoxes: [],
  /** app.exit's code, once called */
  exitCode: null,
  external: [],
  /** app events in the order they were emitted */
  appEvents: [],
  quitRequests: 0,
  quitted: null,
};

let resolveQuitted;
standin.quitted = new Promise((r) => (resolveQuitted = r));

class StandinApp extends EventEmitter {
  #ready = Promise.resolve().then(() => {
    standin.appEvents.push('ready');
    this.emit('ready');
  });

  whenReady() {
    return this.#ready;
  }

  getAppPath() {
    const path = process.env.ELECTRON_STANDIN_APP_PATH;
    if (!path) throw new Error('electron-standin: set ELECTRON_STANDIN_APP_PATH (what app.getAppPath() returns)');
    return path;
  }

  /** Exits at once, without quit events (recorded; the driver ends the process). */
  exit(code = 0) {
    standin.exitCode = code;
    standin.appEvents.push('exit');
  }

  /** Electron's order: before-quit (preventable), windows close, will-quit (preventable), quit. */
  quit() {
    standin.quitRequests++;
    const before = quitEvent();
    standin.appEvents.push('before-quit');
    this.emit('before-quit', before);
    if (before.defaultPrevented) return;
    for (const win of [...standin.windows]) win.close();
    const will = quitEvent();
    standin.appEvents.push('will-quit');
    this.emit('will-quit', will);
    if (will.defaultPrevented) return;
    standin.appEvents.push('quit');
    this.emit('quit', quitEvent(), 0);
    resolveQuitted();
  }
}

function quitEvent() {
  return {
    defaultPrevented: false,
    preventDefault() {
      this.defaultPrevented = true;
    },
  };
}

export const app = new StandinApp();

let nextId = 1;

class StandinWebContents extends EventEmitter {
  id = nextId++;
  sent = [];
  openHandler = null;
  send(channel, payload) {
    this.sent.push({ channel, payload });
  }
  setWindowOpenHandler(handler) {
    this.openHandler = handler;
  }
}

export class BrowserWindow extends EventEmitter {
  static getAllWindows() {
    return standin.windows.filter((w) => !w.destroyed);
  }
  static getFocusedWindow() {
    return BrowserWindow.getAllWindows()[0] ?? null;
  }

  options;
  webContents = new StandinWebContents();
  loaded = [];
  shown = false;
  destroyed = false;

  constructor(options) {
    super();
    this.options = options;
    standin.windows.push(this);
  }
  show() {
    this.shown = true;
  }
  async loadURL(url) {
    this.loaded.push({ kind: 'url', target: url });
  }
  async loadFile(path) {
    this.loaded.push({ kind: 'file', target: path });
  }
  close() {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('closed');
  }
}

export const ipcMain = {
  handle(channel, listener) {
    if (standin.handlers.has(channel)) throw new Error(`electron-standin: a second handler for ${channel}`);
    standin.handlers.set(channel, listener);
  },
};

export const dialog = {
  showErrorBox(title, content) {
    standin.errorBoxes.push([title, content]);
  },
  async showOpenDialog(...args) {
    standin.dialogs.push(args);
    return { canceled: true, filePaths: [] };
  },
};

export const shell = {
  async openExternal(url) {
    standin.external.push(url);
  },
};

/** utilityProcess.fork's shape (pid, postMessage, 'message', 'exit', kill) over a Node child. */
class StandinUtilityProcess extends EventEmitter {
  constructor(entry, args, options) {
    super();
    this.entry = entry;
    this.options = options;
    this.exit = null;
    this.child = fork(entry, args ?? [], {
      env: options?.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    this.child.on('message', (m) => this.emit('message', m));
    // Electron reports only a code; a kill shows as a non-zero one.
    this.child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      this.emit('exit', code ?? 1);
    });
  }
  get pid() {
    return this.child.pid;
  }
  postMessage(message) {
    if (this.child.connected) this.child.send(message);
  }
  kill() {
    return this.child.kill('SIGTERM');
  }
}

export const utilityProcess = {
  fork(entry, args, options) {
    const p = new StandinUtilityProcess(entry, args, options);
    standin.forks.push(p);
    return p;
  },
};

export default { app, BrowserWindow, ipcMain, dialog, shell, utilityProcess };
