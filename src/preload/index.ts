/**
 * Exposes the typed API to the renderer, and nothing else. Every method is one
 * `ipcRenderer.invoke('domain:verb', input)`; main validates the input and checks the sender.
 * Only src/shared/api and src/shared/client are imported: a sandboxed preload cannot require
 * npm packages.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { API_GLOBAL, EVENTS_CHANNEL, type Api, type ApiEvent, type ApiResult } from '../shared/api';
import { createApi } from '../shared/client';

const api = createApi({
  invoke: (channel, input) => ipcRenderer.invoke(channel, input) as Promise<ApiResult<unknown>>,
  subscribe(listener) {
    const handler = (_event: IpcRendererEvent, payload: ApiEvent) => listener(payload);
    ipcRenderer.on(EVENTS_CHANNEL, handler);
    return () => void ipcRenderer.removeListener(EVENTS_CHANNEL, handler);
  },
}) satisfies Api;

contextBridge.exposeInMainWorld(API_GLOBAL, api);
