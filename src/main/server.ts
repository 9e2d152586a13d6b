/**
 * Browser mode: the built renderer and the API over HTTP on 127.0.0.1 only.
 *
 * Every request must carry the session token: the `mdpo_session` cookie (HttpOnly,
 * SameSite=Strict, set when the printed URL with ?token= is first opened), an
 * `Authorization: Bearer <token>` header (scripts), or ?token=. Requests whose Host is not this
 * server's loopback address (DNS rebinding), or whose Origin / Sec-Fetch-Site say another site
 * sent them (CSRF), are refused with 403 before anything else happens.
 *
 * API: POST /api/<domain:verb> with a JSON body -> ApiResult JSON (HTTP status from the error
 * code: 400 names the field). GET /api/events -> server-sent events, one ApiEvent per message.
 * GET /docs/<page>.html -> docs/<page>.md rendered as HTML (src/main/docs), behind the same token.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { HTTP_STATUS, type ApiEvent, type ApiResult } from '../shared/api';
import { dispatch } from './api/dispatch';
import { docResponse } from './docs/pages';
import type { Handlers } from './api/handlers';

export const COOKIE = 'mdpo_session';
const MAX_BODY = 8 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

export interface ServeOptions {
  handlers: Handlers;
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** The built renderer (out/renderer); null serves the API only. */
  rendererDir: string | null;
  /** The docs folder (docs/ of the app); null or absent: /docs/ answers that the docs are missing. */
  docsDir?: string | null;
  /** 0 = any free port. */
  port?: number;
  /** Fixed token (tests); default: 32 random bytes. */
  token?: string;
}

export interface RunningServer {
  server: Server;
  port: number;
  token: string;
  /** The URL to open: it carries the token once; the page then lives on the cookie. */
  url: string;
  close(): Promise<void>;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), decodeURIComponent(part.slice(i + 1).trim()));
  }
  return out;
}

function sameToken(given: string | undefined | null, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new Error('too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const token = options.token ?? randomBytes(32).toString('hex');
  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);
  const clients = new Set<ServerResponse>();

  /** Why this request is refused, or null. Checked in this order for every request. */
  function refusal(req: IncomingMessage, url: URL): string | null {
    if (!req.headers.host || !allowedHosts().has(req.headers.host.toLowerCase())) return 'foreign Host header';
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins().has(origin.toLowerCase())) return 'foreign Origin header';
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return `cross-site request (Sec-Fetch-Site: ${site})`;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const given = parseCookies(req.headers.cookie).get(COOKIE) ?? bearer ?? url.searchParams.get('token');
    if (!given) return 'missing token';
    if (!sameToken(given, token)) return 'wrong token';
    return null;
  }

  function serveEvents(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    clients.add(res);
    const unsubscribe = options.subscribe((event) => res.write(`data: ${JSON.stringify(event)}\n\n`));
    const heartbeat = setInterval(() => res.write(': ping\n\n'), HEARTBEAT_MS);
    req.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      clients.delete(res);
    });
  }

  function serveStatic(url: URL, res: ServerResponse): void {
    const root = options.rendererDir;
    if (!root || !existsSync(join(root, 'index.html'))) {
      send(res, 404, 'The renderer is not built. Run `npm run build`, then `npm run serve`.');
      return;
    }
    const base = resolve(root);
    let path = resolve(base, '.' + normalize(decodeURIComponent(url.pathname)));
    if (path !== base && !path.startsWith(base + sep)) {
      send(res, 403, 'Forbidden');
      return;
    }
    // The SPA: unknown paths without an extension get index.html.
    if (!existsSync(path) || statSync(path).isDirectory()) {
      if (extname(path)) {
        send(res, 404, 'Not found');
        return;
      }
      path = join(base, 'index.html');
    }
    res.writeHead(200, {
      'content-type': MIME[extname(path)] ?? 'application/octet-stream',
      'cache-control': path.endsWith('index.html') ? 'no-store' : 'max-age=300',
    });
    createReadStream(path).pipe(res);
  }

  const server = createServer((req, res) => {
    void (async () => {
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      res.setHeader('x-frame-options', 'DENY');
      res.setHeader('cross-origin-opener-policy', 'same-origin');
      const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
      const why = refusal(req, url);
      if (why) {
        send(res, 403, `Forbidden: ${why}.`);
        return;
      }
      // First load with ?token=: keep it in an HttpOnly cookie and drop it from the address bar.
      if (url.searchParams.has('token') && req.method === 'GET' && !url.pathname.startsWith('/api/')) {
        url.searchParams.delete('token');
        res.writeHead(303, {
          'set-cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
          location: url.pathname + url.search,
          'cache-control': 'no-store',
        });
        res.end();
        return;
      }
      if (url.pathname === '/docs' || url.pathname.startsWith('/docs/')) {
        if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed');
        if (url.pathname === '/docs') {
          res.writeHead(302, { location: '/docs/' });
          return res.end();
        }
        let rel: string;
        try {
          rel = decodeURIComponent(url.pathname.slice('/docs/'.length));
        } catch {
          return send(res, 400, 'Bad path');
        }
        const doc = docResponse(options.docsDir ?? null, rel);
        res.writeHead(doc.status, doc.headers);
        return res.end(req.method === 'HEAD' ? undefined : doc.body);
      }
      if (url.pathname === '/api/events') {
        if (req.method !== 'GET') return send(res, 405, 'Method not allowed');
        return serveEvents(req, res);
      }
      if (url.pathname.startsWith('/api/')) {
        if (req.method !== 'POST') return send(res, 405, 'Use POST for API calls.');
        let raw: unknown;
        try {
          const text = await readBody(req);
          raw = text.trim() === '' ? undefined : JSON.parse(text);
        } catch {
          return sendJson(res, 400, { ok: false, error: { code: 'bad_request', message: 'The body is not valid JSON (or over 8 MiB).', field: '' } } satisfies ApiResult<never>);
        }
        const result = await dispatch(options.handlers, decodeURIComponent(url.pathname.slice(5)), raw);
        return sendJson(res, result.ok ? 200 : HTTP_STATUS[result.error.code], result);
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'Method not allowed');
      serveStatic(url, res);
    })().catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, `Internal error: ${(error as Error).message}`);
      else res.end();
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolveListen());
  });
  port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}`,
    async close() {
      for (const c of clients) c.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
