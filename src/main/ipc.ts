/**
 * Electron IPC wiring: one `ipcMain.handle('domain:verb')` per API channel, every call checked
 * for its sender (only the app's own window, main frame, loaded from the app's own renderer)
 * and validated by the same dispatcher as HTTP and the CLI.
 */
import type { ApiResult } from '../shared/api';
import { API_CHANNELS } from '../shared/api';
import { dispatch } from './api/dispatch';
import type { Handlers } from './api/handlers';

/** What the sender check needs from an IpcMainInvokeEvent (kept structural for unit tests). */
export interface SenderInfo {
  /** The frame that sent the message (null when it is gone). */
  senderFrame: { url: string; parent: unknown } | null;
  sender: { id: number };
}

/**
 * True only for the app's own renderer: the main frame of an allowed window, at the dev
 * server's origin (ELECTRON_RENDERER_URL) or at the packaged index.html file.
 */
export function isTrustedSender(event: SenderInfo, allowedWebContents: ReadonlySet<number>, rendererUrl: string): boolean {
  const frame = event.senderFrame;
  if (!frame || frame.parent !== null) return false;
  if (!allowedWebContents.has(event.sender.id)) return false;
  let url: URL;
  let allowed: URL;
  try {
    url = new URL(frame.url);
    allowed = new URL(rendererUrl);
  } catch {
    return false;
  }
  if (allowed.protocol === 'file:') return url.protocol === 'file:' && url.pathname === allowed.pathname;
  return url.origin === allowed.origin;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: SenderInfo, input: unknown) => Promise<ApiResult<unknown>>): void;
}

export function registerIpc(
  ipcMain: IpcMainLike,
  handlers: Handlers,
  trusted: (event: SenderInfo) => boolean,
): void {
  for (const channel of API_CHANNELS) {
    ipcMain.handle(channel, async (event, input) => {
      if (!trusted(event)) {
        return { ok: false, error: { code: 'bad_request', message: 'Refused: this IPC call did not come from the app window.' } };
      }
      return dispatch(handlers, channel, input);
    });
  }
}
