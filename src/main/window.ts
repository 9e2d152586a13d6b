/**
 * The hardened window factory of the Electron shell. It takes the few Electron pieces it needs
 * as arguments (no `import 'electron'` here), so a plain unit test can check every security
 * setting without an Electron binary.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { docsLinkOf } from './docs/docs-server';

/** Options for `new BrowserWindow(...)`: isolated, sandboxed, no Node in the page. */
export function windowOptions(mainDir: string) {
  return {
    width: 1280,
    height: 820,
    show: false,
    title: 'mDPO Studio',
    webPreferences: {
      preload: join(mainDir, '../preload/index.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      sandbox: true,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  } as const;
}

/** The slice of BrowserWindow the factory uses. */
export interface WindowLike {
  once(event: 'ready-to-show', listener: () => void): unknown;
  show(): void;
  loadURL(url: string): Promise<void>;
  loadFile(path: string): Promise<void>;
  webContents: {
    setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
    on(event: 'will-navigate', listener: (event: { preventDefault(): void }, url: string) => void): unknown;
  };
}

export interface WindowDeps<W extends WindowLike> {
  create(options: ReturnType<typeof windowOptions>): W;
  openExternal(url: string): Promise<void>;
  /** The dev server's URL (electron-vite dev), or undefined to load the built renderer. */
  rendererUrl: string | undefined;
  mainDir: string;
  /** Opens a docs link ("run-settings.html#beta") in the system browser; without it, docs links are blocked. */
  openDocs?(link: string): void;
}

/**
 * Creates the app window: navigation away from the app and new windows are blocked; https
 * links the user clicks open in the system browser instead, and so do the app's own docs links
 * (through `openDocs`, which serves docs/ over http so that the #section survives).
 */
export function createAppWindow<W extends WindowLike>(deps: WindowDeps<W>): W {
  const win = deps.create(windowOptions(deps.mainDir));
  win.once('ready-to-show', () => win.show());
  const ownUrl = deps.rendererUrl ?? pathToFileURL(join(deps.mainDir, '../renderer/index.html')).href;
  win.webContents.setWindowOpenHandler(({ url }) => {
    const docsLink = deps.openDocs ? docsLinkOf(url, ownUrl) : null;
    if (docsLink !== null) deps.openDocs!(docsLink);
    else if (url.startsWith('https://')) void deps.openExternal(url);
    return { action: 'deny' };
  });
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  if (deps.rendererUrl) void win.loadURL(deps.rendererUrl);
  else void win.loadFile(join(deps.mainDir, '../renderer/index.html'));
  return win;
}
