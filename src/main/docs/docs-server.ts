/**
 * The desktop app's docs: a read-only HTTP server on 127.0.0.1 that serves only docs/ (as
 * pages.ts renders them), so a help link can open the right section in the system browser.
 * A file:// URL cannot carry the section reliably through every OS's "open URL" handler; an
 * http URL with a #fragment can.
 *
 * The docs are public text shipped with the app, so there is no token; requests whose Host is
 * not this server's loopback address (DNS rebinding) are refused, and only GET/HEAD under
 * /docs/ is answered.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { docResponse } from './pages';

export interface DocsServer {
  port: number;
  /** The browser URL of a docs link: "run-settings.html#beta" -> http://127.0.0.1:<port>/docs/run-settings.html#beta. */
  urlFor(link: string): string;
  close(): Promise<void>;
}

export async function startDocsServer(docsDir: string): Promise<DocsServer> {
  let port = 0;
  const server: Server = createServer((req, res) => {
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    const host = (req.headers.host ?? '').toLowerCase();
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end('Forbidden: foreign Host header.');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { 'content-type': 'text/plain; charset=utf-8' }).end('Method not allowed');
      return;
    }
    const path = new URL(req.url ?? '/', `http://127.0.0.1:${port}`).pathname;
    if (path === '/' || path === '/docs') {
      res.writeHead(302, { location: '/docs/' }).end();
      return;
    }
    if (!path.startsWith('/docs/')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
      return;
    }
    let rel: string;
    try {
      rel = decodeURIComponent(path.slice('/docs/'.length));
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end('Bad path');
      return;
    }
    const doc = docResponse(docsDir, rel);
    res.writeHead(doc.status, doc.headers);
    res.end(req.method === 'HEAD' ? undefined : doc.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  server.unref(); // never what keeps the app running
  return {
    port,
    urlFor: (link) => `http://127.0.0.1:${port}/docs/${link.replace(/^\/+/, '')}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * If `url` is one of the app's own docs links (the renderer writes them as the relative
 * "docs/<page>.html#<section>", so they arrive as file:///…/docs/<page>.html#… in the packaged
 * app or http://localhost:<dev port>/docs/… under the dev server), the part after "docs/";
 * otherwise null. `rendererUrl` is the renderer's own address: links from anywhere else are not docs links.
 */
export function docsLinkOf(url: string, rendererUrl: string): string | null {
  let u: URL;
  let own: URL;
  try {
    u = new URL(url);
    own = new URL(rendererUrl);
  } catch {
    return null;
  }
  if (u.protocol !== own.protocol || (u.protocol !== 'file:' && u.origin !== own.origin)) return null;
  const base = own.pathname.replace(/[^/]*$/, '');
  if (!u.pathname.startsWith(base + 'docs/')) return null;
  const rel = u.pathname.slice(base.length + 'docs/'.length);
  if (!/^((?:[A-Za-z0-9_-]+\/)*[A-Za-z0-9_-]+\.html)?$/.test(rel)) return null;
  return rel + u.hash;
}
