/** Browser mode over real HTTP on loopback: every refusal, the cookie flow, the API and SSE. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/main/backend-context';
import { COOKIE, startServer, type RunningServer } from '../src/main/server';
import { openTestBackend, tempDir, writeTinyDataset } from './api-fixtures';

let tmp: ReturnType<typeof tempDir>;
let backend: Backend;
let srv: RunningServer;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw request, so that Host/Origin can be set to anything (fetch forbids that). */
function http(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: srv.port, method, path, headers: { host: `127.0.0.1:${srv.port}`, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
const auth = () => ({ cookie: `${COOKIE}=${srv.token}` });
const api = (channel: string, input: unknown, headers: Record<string, string> = auth()) =>
  http('POST', `/api/${channel}`, { 'content-type': 'application/json', ...headers }, JSON.stringify(input));

beforeAll(async () => {
  tmp = tempDir('mdpo-server-');
  backend = openTestBackend(tmp.dir, 40);
  const renderer = join(tmp.dir, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>mDPO Studio</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  srv = await startServer({ handlers: backend.handlers, subscribe: backend.subscribe, rendererDir: renderer });
});
afterAll(async () => {
  await srv.close();
  await backend.close();
  tmp.cleanup();
});

describe('browser-mode server refusals', () => {
  it('listens on loopback only, with a long random token in the printed URL', () => {
    expect(srv.server.address()).toMatchObject({ address: '127.0.0.1' });
    expect(srv.token).toMatch(/^[0-9a-f]{64}$/);
    expect(srv.url).toBe(`http://127.0.0.1:${srv.port}/?token=${srv.token}`);
  });

  it('refuses a request without the token (page and API)', async () => {
    for (const r of [await http('GET', '/'), await api('app:info', null, {}), await http('GET', '/api/events')]) {
      expect(r.status).toBe(403);
      expect(r.body).toBe('Forbidden: missing token.');
    }
  });

  it('refuses a wrong token (cookie, bearer header and query)', async () => {
    const wrong = 'f'.repeat(64);
    for (const r of [
      await api('app:info', null, { cookie: `${COOKIE}=${wrong}` }),
      await api('app:info', null, { authorization: `Bearer ${wrong}` }),
      await http('GET', `/?token=${wrong}`),
      await http('GET', `/?token=short`),
    ]) {
      expect(r.status).toBe(403);
      expect(r.body).toBe('Forbidden: wrong token.');
    }
  });

  it('refuses a foreign Host header even with the right token (DNS rebinding)', async () => {
    for (const host of ['evil.example', `evil.example:${srv.port}`, `127.0.0.1:${srv.port + 1}`, `localhost.evil.example:${srv.port}`]) {
      const r = await api('app:info', null, { ...auth(), host });
      expect(r.status, host).toBe(403);
      expect(r.body).toBe('Forbidden: foreign Host header.');
    }
    // No Host header at all (HTTP/1.0 style), written on a raw socket.
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(srv.port, '127.0.0.1', () => socket.end(`GET /?token=${srv.token} HTTP/1.0\r\n\r\n`));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 403/);
    expect(raw).toContain('Forbidden: foreign Host header.');
  });

  it('refuses a foreign Origin or a cross-site fetch even with the right token (CSRF)', async () => {
    for (const origin of ['http://evil.example', `http://127.0.0.1:${srv.port + 1}`, `https://127.0.0.1:${srv.port}`, 'null']) {
      const r = await api('app:info', null, { ...auth(), origin });
      expect(r.status, origin).toBe(403);
      expect(r.body).toBe('Forbidden: foreign Origin header.');
    }
    const site = await api('app:info', null, { ...auth(), 'sec-fetch-site': 'cross-site' });
    expect(site.status).toBe(403);
  });

  it('first load with ?token= sets an HttpOnly SameSite=Strict cookie and drops the token from the URL', async () => {
    const r = await http('GET', `/?token=${srv.token}`);
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/');
    const cookie = (r.headers['set-cookie'] as string[])[0]!;
    expect(cookie).toBe(`${COOKIE}=${srv.token}; HttpOnly; SameSite=Strict; Path=/`);
    const page = await http('GET', '/', { cookie: cookie.split(';')[0]!, origin: `http://127.0.0.1:${srv.port}`, 'sec-fetch-site': 'same-origin' });
    expect(page.status).toBe(200);
    expect(page.body).toContain('mDPO Studio');
    expect((await http('GET', '/assets/app.js', auth())).headers['content-type']).toContain('text/javascript');
    expect((await http('GET', '/runs/3', auth())).body).toContain('mDPO Studio'); // SPA fallback
    expect((await http('GET', '/missing.js', auth())).status).toBe(404);
    // Traversal never leaves the renderer folder (the URL parser folds .., the guard checks again).
    const traversal = await http('GET', '/%2e%2e/%2e%2e/etc/passwd', auth());
    expect(traversal.body).not.toContain('root:');
    // localhost with its own port is the same app.
    expect((await api('app:info', null, { ...auth(), host: `localhost:${srv.port}`, origin: `http://localhost:${srv.port}` })).status).toBe(200);
  });
});

describe('browser-mode API and events', () => {
  it('answers JSON envelopes; a bad request is a 400 naming the field', async () => {
    const info = await api('app:info', null);
    expect(info.status).toBe(200);
    expect(JSON.parse(info.body)).toMatchObject({ ok: true, value: { name: 'mDPO Studio', mode: 'browser' } });
    const bad = await api('runs:create', { config: { datasetId: 1, beta: 'high' } });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toMatchObject({ code: 'bad_request', field: 'config.beta' });
    const notJson = await http('POST', '/api/runs:list', { ...auth(), 'content-type': 'application/json' }, '{oops');
    expect(notJson.status).toBe(400);
    expect((await api('runs:get', { runId: 4242 })).status).toBe(404);
    expect((await http('GET', '/api/runs:list', auth())).status).toBe(405);
  });

  it('server-sent events deliver status, progress and metrics of a live run', async () => {
    const root = await writeTinyDataset(tmp.dir);
    const ds = JSON.parse((await api('datasets:import', { path: root })).body).value as { id: number };
    const events: { type: string; step?: number; runId?: number; status?: string }[] = [];
    const done = new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: srv.port, path: '/api/events', headers: { host: `127.0.0.1:${srv.port}`, ...auth() } }, (res) => {
        expect(res.statusCode).toBe(200);
        expect(res.headers['content-type']).toContain('text/event-stream');
        let buffer = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffer += chunk;
          let i: number;
          while ((i = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, i);
            buffer = buffer.slice(i + 2);
            if (frame.startsWith('data: ')) events.push(JSON.parse(frame.slice(6)));
            if (events.some((e) => e.type === 'run:status' && e.status === 'completed')) {
              req.destroy();
              resolve();
            }
          }
        });
      });
      req.on('error', (e) => (events.length ? resolve() : reject(e)));
      req.end();
      // Start the run once the stream is open.
      setTimeout(() => void api('runs:create', { config: { datasetId: ds.id, maxSteps: 5, checkpointEvery: 5 } }), 100);
    });
    await done;
    const progress = events.filter((e) => e.type === 'run:progress').map((e) => e.step);
    expect(progress).toEqual([1, 2, 3, 4, 5]);
    expect(events.filter((e) => e.type === 'run:metrics')).toHaveLength(5);
    expect(events.filter((e) => e.type === 'run:status').map((e) => e.status)).toEqual(['running', 'completed']);
    expect(events.some((e) => e.type === 'run:checkpoint')).toBe(true);
  });
});
