/**
 * The docs as the app opens them (issue 22): browser mode serves docs/*.md rendered at
 * /docs/<page>.html behind its token; the desktop app hands its docs links to a loopback docs
 * server and the system browser. Real HTTP on 127.0.0.1, the repository's own docs/.
 */
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Handlers } from '../src/main/api/handlers';
import { docsLinkOf, startDocsServer, type DocsServer } from '../src/main/docs/docs-server';
import { COOKIE, startServer, type RunningServer } from '../src/main/server';
import { createAppWindow, type WindowLike } from '../src/main/window';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOCS = join(ROOT, 'docs');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('browser mode serves the docs', () => {
  let srv: RunningServer;
  let bare: RunningServer;
  const auth = () => ({ cookie: `${COOKIE}=${srv.token}` });
  const noEvents = () => () => {};

  beforeAll(async () => {
    // Docs requests never reach the API handlers.
    srv = await startServer({ handlers: {} as Handlers, subscribe: noEvents, rendererDir: null, docsDir: DOCS });
    bare = await startServer({ handlers: {} as Handlers, subscribe: noEvents, rendererDir: null });
  });
  afterAll(async () => {
    await srv.close();
    await bare.close();
  });

  it('renders a page with heading ids, .md links rewritten, and a no-script CSP', async () => {
    const r = await get(srv.port, '/docs/run-settings.html', auth());
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.headers['content-security-policy']).toContain("default-src 'none'");
    expect(r.headers['content-security-policy']).not.toContain('script');
    expect(r.body).toContain('<title>New run settings · mDPO Studio</title>');
    expect(r.body).toContain('<h3 id="negativecropmin">');
    expect(r.body).toContain('<a href="objective.html#the-corrupted-image-m">');
    expect(r.body).not.toContain('.md"');
  });

  it('the index is docs/README.md, at /docs/ and /docs/index.html; /docs redirects', async () => {
    for (const path of ['/docs/', '/docs/index.html', '/docs/README.html']) {
      const r = await get(srv.port, path, auth());
      expect(r.status, path).toBe(200);
      expect(r.body).toContain('<h1 id="mdpo-studio-documentation">');
      expect(r.body).toContain('<a href="objective.html">The objective</a>');
    }
    const r = await get(srv.port, '/docs', auth());
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/docs/');
  });

  it('pages in sub-folders and images under docs/', async () => {
    const page = await get(srv.port, '/docs/results/demo/results.html', auth());
    expect(page.status).toBe(200);
    expect(page.body).toContain('<a href="../../">mDPO Studio documentation</a>');
    const png = await get(srv.port, '/docs/screenshots/run.png', auth());
    expect(png.status).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.body.slice(1, 4)).toBe('PNG'); // the PNG signature
  });

  it('behind the token like everything else', async () => {
    const r = await get(srv.port, '/docs/objective.html');
    expect(r.status).toBe(403);
    expect(r.body).toBe('Forbidden: missing token.');
  });

  it('nothing outside docs/, no unknown page, no other method', async () => {
    for (const path of ['/docs/..%2Fpackage.json', '/docs/..%2FREADME.html', '/docs/nope.html', '/docs/objective.md', '/docs/objective', '/docs/%E0%A4%A.html']) {
      const r = await get(srv.port, path, auth());
      expect([400, 404], path).toContain(r.status);
      expect(r.body).not.toContain('mDPO Studio');
    }
    expect((await get(srv.port, '/docs/objective.html', auth(), 'POST')).status).toBe(405);
  });

  it('a server started without docs says so', async () => {
    const r = await get(bare.port, '/docs/objective.html', { cookie: `${COOKIE}=${bare.token}` });
    expect(r.status).toBe(404);
    expect(r.body).toBe('The documentation is not included in this build (docs/ is missing).');
  });
});

describe("the desktop app's docs server", () => {
  let docs: DocsServer;
  beforeAll(async () => {
    docs = await startDocsServer(DOCS);
  });
  afterAll(() => docs.close());

  it('serves a section a help link asks for, at the URL handed to the system browser', async () => {
    const url = docs.urlFor('run-settings.html#beta');
    expect(url).toBe(`http://127.0.0.1:${docs.port}/docs/run-settings.html#beta`);
    const r = await get(docs.port, '/docs/run-settings.html');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<h3 id="beta">');
    expect((await get(docs.port, '/')).headers.location).toBe('/docs/');
  });

  it('refuses a foreign Host (DNS rebinding), other methods and anything but /docs/', async () => {
    expect((await get(docs.port, '/docs/', { host: `evil.example:${docs.port}` })).status).toBe(403);
    expect((await get(docs.port, '/docs/', {}, 'POST')).status).toBe(405);
    expect((await get(docs.port, '/package.json')).status).toBe(404);
    expect((await get(docs.port, '/docs/..%2Fpackage.json')).status).toBe(404);
  });
});

describe('docs links in the desktop window', () => {
  const packaged = pathToFileURL('/opt/mdpo/resources/app.asar/out/renderer/index.html').href;

  it('docsLinkOf: the renderer-relative docs/ links, and nothing else', () => {
    const base = packaged.replace('index.html', '');
    expect(docsLinkOf(`${base}docs/run-settings.html#beta`, packaged)).toBe('run-settings.html#beta');
    expect(docsLinkOf(`${base}docs/`, packaged)).toBe('');
    expect(docsLinkOf('http://localhost:5173/docs/objective.html#defaults', 'http://localhost:5173/')).toBe('objective.html#defaults');
    expect(docsLinkOf('http://localhost:5174/docs/objective.html', 'http://localhost:5173/')).toBeNull();
    expect(docsLinkOf('file:///etc/docs/objective.html', packaged)).toBeNull();
    expect(docsLinkOf(`${base}docs/../../x.html`, packaged)).toBeNull();
    expect(docsLinkOf('https://arxiv.org/docs/x.html', packaged)).toBeNull();
    expect(docsLinkOf('not a url', packaged)).toBeNull();
  });

  it('the window hands docs links to openDocs and https links to the system browser', () => {
    let handler: ((d: { url: string }) => { action: 'deny' }) | null = null;
    const win: WindowLike = {
      once: () => undefined,
      show: () => undefined,
      loadURL: async () => undefined,
      loadFile: async () => undefined,
      webContents: { setWindowOpenHandler: (h) => void (handler = h), on: () => undefined },
    };
    const docs: string[] = [];
    const external: string[] = [];
    createAppWindow({
      create: () => win,
      openExternal: async (url) => void external.push(url),
      openDocs: (link) => void docs.push(link),
      rendererUrl: undefined,
      mainDir: '/opt/mdpo/resources/app.asar/out/main',
    });
    for (const url of [`${packaged.replace('index.html', '')}docs/objective.html#defaults`, 'https://arxiv.org/abs/2406.11839', 'http://example.com/docs/x.html']) {
      expect(handler!({ url })).toEqual({ action: 'deny' });
    }
    expect(docs).toEqual(['objective.html#defaults']);
    expect(external).toEqual(['https://arxiv.org/abs/2406.11839']);
  });
});
