/**
 * The Electron shell's security settings (issue 7): the window factory's options, its
 * navigation and new-window handlers, and the built renderer's Content Security Policy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createAppWindow, windowOptions, type WindowLike } from '../src/main/window';

class FakeWindow implements WindowLike {
  shown = false;
  loaded: string[] = [];
  openHandler: ((d: { url: string }) => { action: 'deny' }) | null = null;
  navigate: ((e: { preventDefault(): void }, url: string) => void) | null = null;
  ready: (() => void) | null = null;
  constructor(readonly options: ReturnType<typeof windowOptions>) {}
  once(_event: 'ready-to-show', listener: () => void) {
    this.ready = listener;
  }
  show() {
    this.shown = true;
  }
  async loadURL(url: string) {
    this.loaded.push(url);
  }
  async loadFile(path: string) {
    this.loaded.push(path);
  }
  webContents = {
    setWindowOpenHandler: (h: (d: { url: string }) => { action: 'deny' }) => {
      this.openHandler = h;
    },
    on: (_event: 'will-navigate', l: (e: { preventDefault(): void }, url: string) => void) => {
      this.navigate = l;
    },
  };
}

function makeWindow(rendererUrl?: string) {
  const external: string[] = [];
  const win = createAppWindow({
    create: (options) => new FakeWindow(options),
    openExternal: async (url) => {
      external.push(url);
    },
    rendererUrl,
    mainDir: '/app/out/main',
  });
  return { win, external };
}

describe('Electron window', () => {
  it('isolates and sandboxes the renderer, with no Node integration anywhere', () => {
    const { webPreferences } = windowOptions('/app/out/main');
    expect(webPreferences).toMatchObject({
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      sandbox: true,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
    // The sandboxed preload must be the CommonJS build.
    expect(webPreferences.preload).toBe('/app/out/preload/index.cjs');
  });

  it('blocks navigation and new windows; https links go to the system browser', () => {
    const { win, external } = makeWindow();
    let prevented = false;
    win.navigate!({ preventDefault: () => (prevented = true) }, 'https://example.org/');
    expect(prevented).toBe(true);
    expect(win.openHandler!({ url: 'https://arxiv.org/abs/2406.11839' })).toEqual({ action: 'deny' });
    expect(win.openHandler!({ url: 'file:///etc/passwd' })).toEqual({ action: 'deny' });
    expect(win.openHandler!({ url: 'javascript:alert(1)' })).toEqual({ action: 'deny' });
    expect(external).toEqual(['https://arxiv.org/abs/2406.11839']);
  });

  it('loads the built renderer (or the dev server) and shows when ready', () => {
    const built = makeWindow();
    expect(built.win.loaded).toEqual(['/app/out/renderer/index.html']);
    built.win.ready!();
    expect(built.win.shown).toBe(true);
    expect(makeWindow('http://localhost:5173').win.loaded).toEqual(['http://localhost:5173']);
  });

  it('the renderer page carries a strict Content Security Policy (source and, when built, output)', () => {
    const pages = [join(process.cwd(), 'src/renderer/index.html'), join(process.cwd(), 'out/renderer/index.html')];
    for (const page of pages.filter((p) => existsSync(p))) {
      const html = readFileSync(page, 'utf8');
      const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
      expect(csp, page).toBeDefined();
      expect(csp).toMatch(/default-src 'self'/);
      expect(csp).toMatch(/script-src 'self'(;|$)/); // no unsafe-inline / unsafe-eval scripts
      expect(csp).toMatch(/object-src 'none'/);
      expect(csp).not.toMatch(/unsafe-eval/);
    }
  });
});
