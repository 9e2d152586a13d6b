/** Electron IPC wiring without Electron: the sender check and the per-channel registration. */
import { describe, expect, it } from 'vitest';
import { API_CHANNELS, type ApiResult } from '../src/shared/api';
import { createApi } from '../src/shared/client';
import { ApiError } from '../src/shared/api';
import { isTrustedSender, registerIpc, type SenderInfo } from '../src/main/ipc';
import type { Handlers } from '../src/main/api/handlers';

const windows = new Set([7]);
const ev = (url: string, opts: { id?: number; sub?: boolean; gone?: boolean } = {}): SenderInfo => ({
  senderFrame: opts.gone ? null : { url, parent: opts.sub ? {} : null },
  sender: { id: opts.id ?? 7 },
});

describe('IPC sender check', () => {
  it('accepts only the main frame of an app window at the renderer address', () => {
    const dev = 'http://localhost:5173/';
    expect(isTrustedSender(ev('http://localhost:5173/#/runs'), windows, dev)).toBe(true);
    expect(isTrustedSender(ev('http://localhost:5174/'), windows, dev)).toBe(false);
    expect(isTrustedSender(ev('https://evil.example/'), windows, dev)).toBe(false);
    expect(isTrustedSender(ev('http://localhost:5173/', { sub: true }), windows, dev)).toBe(false);
    expect(isTrustedSender(ev('http://localhost:5173/', { id: 8 }), windows, dev)).toBe(false);
    expect(isTrustedSender(ev('http://localhost:5173/', { gone: true }), windows, dev)).toBe(false);
    const file = 'file:///opt/mdpo/resources/app/out/renderer/index.html';
    expect(isTrustedSender(ev(`${file}#/inspect`), windows, file)).toBe(true);
    expect(isTrustedSender(ev('file:///home/user/Downloads/evil.html'), windows, file)).toBe(false);
    expect(isTrustedSender(ev('not a url'), windows, file)).toBe(false);
  });

  it('registers every channel; untrusted calls are refused before validation; the client unwraps errors', async () => {
    const registered = new Map<string, (e: SenderInfo, input: unknown) => Promise<ApiResult<unknown>>>();
    const handlers = { 'runs:get': async ({ runId }: { runId: number }) => ({ id: runId }) } as unknown as Handlers;
    registerIpc({ handle: (c, l) => void registered.set(c, l) }, handlers, (e) => e.sender.id === 7);
    expect([...registered.keys()]).toEqual([...API_CHANNELS]);
    const trusted = ev('x', { id: 7 });
    expect(await registered.get('runs:get')!(trusted, { runId: 3 })).toEqual({ ok: true, value: { id: 3 } });
    const refused = await registered.get('runs:get')!(ev('x', { id: 9 }), { runId: 3 });
    expect(refused.ok).toBe(false);
    const bad = await registered.get('runs:get')!(trusted, { runId: -1 });
    expect(!bad.ok && bad.error.field).toBe('runId');

    // The preload's client over this transport: values come back, errors throw ApiError with the field.
    const api = createApi({ invoke: (c, input) => registered.get(c)!(trusted, input), subscribe: () => () => {} });
    expect(await api.runs.get({ runId: 5 })).toEqual({ id: 5 });
    const error = await api.runs.get({ runId: 0 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).field).toBe('runId');
    expect((error as ApiError).code).toBe('bad_request');
  });
});
