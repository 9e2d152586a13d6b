import { API_GLOBAL, type Api } from '../../../shared/api';
import { createApi, httpTransport } from '../../../shared/client';

let cached: Api | null = null;

/**
 * The typed API: the preload's bridge in Electron, or the same contract over HTTP + SSE in
 * browser mode (the session cookie set by the server carries the token).
 */
export function getApi(): Api {
  if (cached) return cached;
  const bridged = (window as unknown as Record<string, Api | undefined>)[API_GLOBAL];
  cached = bridged ?? createApi(httpTransport(''));
  return cached;
}

/** Tests inject a fake API. */
export function setApi(api: Api | null): void {
  cached = api;
}

/** A readable message for anything thrown by an API call. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
