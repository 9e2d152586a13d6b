/** Exposes the typed API to the renderer, and nothing else. */
import { contextBridge, ipcRenderer } from 'electron';
import { API_GLOBAL, type Api } from '../shared/api';

const api = {
  app: {
    info: () => ipcRenderer.invoke('app:info'),
  },
} satisfies Api;

contextBridge.exposeInMainWorld(API_GLOBAL, api);
