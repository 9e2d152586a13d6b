/**
 * The Electron shell: one hardened window, IPC handlers that call the same implementations as
 * browser mode and the CLI. Kept thin on purpose.
 */
import { app, BrowserWindow, dialog, ipcMain, shell } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EVENTS_CHANNEL } from '../shared/api';
import { openBackend, type Backend } from './backend-context';
import { startDocsServer, type DocsServer } from './docs/docs-server';
import { resolveHome } from './home';
import { isTrustedSender, registerIpc, type IpcMainLike } from './ipc';
import { utilityTrainer } from './trainer/utility-launch';
import { createAppWindow } from './window';

// The docs (docs/*.md, shipped inside the app) open in the system browser from a loopback
// server started on the first help click.
let docsServer: Promise<DocsServer> | null = null;
function openDocs(link: string): void {
  docsServer ??= startDocsServer(join(app.getAppPath(), 'docs'));
  void docsServer.then((s) => shell.openExternal(s.urlFor(link))).catch((error: unknown) => {
    docsServer = null;
    void dialog.showMessageBox({ type: 'error', message: 'Could not open the documentation', detail: (error as Error).message });
  });
}

function createWindow(): BrowserWindow {
  return createAppWindow({
    create: (options) => new BrowserWindow(options),
    openExternal: (url) => shell.openExternal(url),
    openDocs,
    rendererUrl: process.env.ELECTRON_RENDERER_URL,
    mainDir: __dirname,
  });
}

/** The renderer's own address: IPC from anywhere else is refused. */
const rendererUrl =
  process.env.ELECTRON_RENDERER_URL ?? pathToFileURL(join(__dirname, '../renderer/index.html')).href;
const appWindows = new Set<number>();
let backend: Backend | null = null;

function openAppWindow(): void {
  const win = createWindow();
  const id = win.webContents.id;
  appWindows.add(id);
  win.on('closed', () => appWindows.delete(id));
}

void app.whenReady().then(() => {
  try {
    backend = openBackend({
      home: resolveHome(),
      mode: 'electron',
      appRoot: app.getAppPath(),
      // The trainer runs as a utilityProcess: the UI never shares a thread with training.
      launcher: utilityTrainer(join(__dirname, 'trainer.js')),
      // File access only through a dialog the user confirms.
      pickPath: async ({ kind, title }) => {
        const win = BrowserWindow.getFocusedWindow();
        const options = { title, properties: [kind === 'folder' ? 'openDirectory' : 'openFile'] as ('openDirectory' | 'openFile')[] };
        const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
        return result.canceled ? null : (result.filePaths[0] ?? null);
      },
    });
  } catch (error) {
    // No store, no app: say why (a database from a newer build, no Electron build of
    // better-sqlite3, a data folder that cannot be written) instead of a window that never comes.
    dialog.showErrorBox('mDPO Studio could not open its data folder', (error as Error).message);
    app.exit(1);
    return;
  }
  registerIpc(ipcMain as unknown as IpcMainLike, backend.handlers, (event) => isTrustedSender(event, appWindows, rendererUrl));
  backend.subscribe((event) => {
    for (const win of BrowserWindow.getAllWindows()) {
      if (appWindows.has(win.webContents.id)) win.webContents.send(EVENTS_CHANNEL, event);
    }
  });
  openAppWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) openAppWindow();
  });
});

// Trainers stop with the app; their runs become `interrupted` and resume from the last checkpoint.
let closing = false;
app.on('before-quit', (event) => {
  if (!backend || closing) return;
  closing = true;
  event.preventDefault();
  void backend.close().finally(() => app.quit());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
