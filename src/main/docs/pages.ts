/**
 * The docs as web pages: `docs/<page>.md` is served as `/docs/<page>.html`, rendered to HTML with
 * heading ids (so the app's help links can open a section), and `/docs/` is the index
 * (docs/README.md). Images under docs/ are served as files. Used by browser mode's server and by
 * the desktop app's docs server (docs-server.ts); both open pages in a browser.
 *
 * Only names made of letters, digits, '-' and '_' (and '/' between them) are looked up, and the
 * resolved file must lie inside the docs folder, so a request cannot reach anything else.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { escapeHtml, renderMarkdown } from './markdown';

export interface DocResponse {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', svg: 'image/svg+xml' };

/** Styles inline, no scripts, images only from the docs themselves. */
export const DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; base-uri 'none'; form-action 'none'";

const STYLE = `
body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d2330;max-width:900px;margin:0 auto;padding:16px 28px 60px}
nav.top{font-size:13px;padding:8px 0;border-bottom:1px solid #e3e6ec;margin-bottom:8px}
a{color:#2f5fd0;text-decoration:none}a:hover{text-decoration:underline}
h1,h2,h3,h4{line-height:1.25;margin:1.4em 0 .5em}h1{font-size:26px}h2{font-size:21px;border-bottom:1px solid #e3e6ec;padding-bottom:4px}h3{font-size:17px}
h1 .anchor,h2 .anchor,h3 .anchor,h4 .anchor{float:left;margin-left:-18px;padding-right:4px;color:#b0b6c3;visibility:hidden}
h1:hover .anchor,h2:hover .anchor,h3:hover .anchor,h4:hover .anchor{visibility:visible}
:target{background:#fff6d6;outline:6px solid #fff6d6}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f2f4f8;padding:1px 4px;border-radius:3px}
pre{background:#f2f4f8;padding:10px 12px;overflow:auto;border-radius:4px}pre code{background:none;padding:0}
table{border-collapse:collapse;margin:10px 0;font-size:14px;display:block;overflow:auto}th,td{border:1px solid #d9dde5;padding:4px 8px;vertical-align:top}th{background:#f6f7fa}
blockquote{margin:0;padding:0 12px;color:#555d6e;border-left:3px solid #d9dde5}img{max-width:100%}
`;

/** docs/ link targets as the HTML pages need them: "objective.md#defaults" -> "objective.html#defaults". */
export function docsHref(href: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('#') || href.startsWith('/')) return href;
  const hash = href.indexOf('#');
  const path = hash < 0 ? href : href.slice(0, hash);
  const frag = hash < 0 ? '' : href.slice(hash);
  return (path.endsWith('.md') ? path.slice(0, -3) + '.html' : path) + frag;
}

/** The docs page as a complete HTML document. */
export function docHtml(markdown: string, indexHref = './'): string {
  const { html, title } = renderMarkdown(markdown, { rewriteHref: docsHref });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(title || 'mDPO Studio docs')} · mDPO Studio</title><style>${STYLE}</style></head>
<body><nav class="top"><a href="${escapeHtml(indexHref)}">mDPO Studio documentation</a></nav>
<main>
${html}
</main></body></html>
`;
}

function notFound(what: string): DocResponse {
  return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `No such documentation page: ${what}` };
}

function inside(root: string, file: string): boolean {
  return file === root || file.startsWith(root + sep);
}

/**
 * Answers a request for `rel`, the part of the URL path after `/docs/` (already URL-decoded).
 * "" and "index.html" give the index; "<name>.html" renders docs/<name>.md.
 */
export function docResponse(docsDir: string | null, rel: string): DocResponse {
  if (!docsDir || !existsSync(join(docsDir, 'README.md'))) {
    return { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'The documentation is not included in this build (docs/ is missing).' };
  }
  const name = rel === '' || rel === 'index.html' ? 'README.html' : rel;
  const m = /^((?:[A-Za-z0-9_-]+\/)*[A-Za-z0-9_-]+)\.(html|png|jpe?g|svg)$/.exec(name);
  if (!m) return notFound(rel);
  const [, stem, ext] = m;
  const root = realpathSync(docsDir);
  const file = join(root, ext === 'html' ? `${stem}.md` : `${stem}.${ext}`);
  if (!existsSync(file) || !statSync(file).isFile()) return notFound(rel);
  if (!inside(root, realpathSync(file))) return notFound(rel);
  if (ext !== 'html') {
    return { status: 200, headers: { 'content-type': IMAGE_TYPES[ext]!, 'cache-control': 'max-age=300' }, body: readFileSync(file) };
  }
  const depth = stem.split('/').length - 1;
  const index = depth === 0 ? './' : '../'.repeat(depth);
  return {
    status: 200,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': DOCS_CSP },
    body: docHtml(readFileSync(file, 'utf8'), index),
  };
}
