/**
 * Builds the nested, typed Api object from a transport. The preload (IPC) and browser mode
 * (fetch + EventSource) both use it, so the two can never drift apart. No dependencies: the
 * sandboxed preload bundles this file.
 */
import {
  API_CHANNELS,
  ApiError,
  type Api,
  type ApiChannel,
  type ApiEvent,
  type ApiOutputs,
  type ApiResult,
} from './api';

export interface ApiTransport {
  /** Sends one call; resolves with the wire envelope. */
  invoke(channel: ApiChannel, input: unknown): Promise<ApiResult<unknown>>;
  subscribe(listener: (event: ApiEvent) => void): () => void;
}

export function unwrap<T>(result: ApiResult<T>): T {
  if (result.ok) return result.value;
  throw new ApiError(result.error);
}

export function createApi(transport: ApiTransport): Api {
  const api: Record<string, Record<string, unknown>> = {};
  for (const channel of API_CHANNELS) {
    const [domain, verb] = channel.split(':') as [string, string];
    api[domain] ??= {};
    api[domain][verb] = async (input?: unknown) =>
      unwrap((await transport.invoke(channel, input)) as ApiResult<ApiOutputs[typeof channel]>);
  }
  api.events = { subscribe: (listener: (event: ApiEvent) => void) => transport.subscribe(listener) };
  return api as unknown as Api;
}

interface EventSourceLike {
  onmessage: ((event: { data: string }) => void) | null;
  close(): void;
}
type EventSourceCtor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike;

/**
 * Browser mode: POST /api/<channel> with a JSON body; events from /api/events (SSE). The
 * session cookie set on first load carries the token, so no token handling is needed here.
 * `base` is the server origin ('' = same origin, the normal case).
 */
export function httpTransport(base = '', fetchImpl: typeof fetch = fetch): ApiTransport {
  return {
    async invoke(channel, input) {
      const response = await fetchImpl(`${base}/api/${channel}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify(input ?? null),
      });
      const text = await response.text();
      try {
        return JSON.parse(text) as ApiResult<unknown>;
      } catch {
        return {
          ok: false,
          error: { code: 'internal', message: `HTTP ${response.status}: ${text.slice(0, 200)}` },
        };
      }
    },
    subscribe(listener) {
      const Ctor = (globalThis as unknown as { EventSource?: EventSourceCtor }).EventSource;
      if (!Ctor) throw new Error('EventSource is not available in this environment.');
      const source = new Ctor(`${base}/api/events`, { withCredentials: true });
      source.onmessage = (event) => listener(JSON.parse(event.data) as ApiEvent);
      return () => source.close();
    },
  };
}
