/**
 * A small Markdown-to-HTML renderer for the project's own docs (docs/*.md): ATX headings with
 * GitHub-style ids, paragraphs, bullet and numbered lists (nested by indentation), fenced code,
 * pipe tables, block quotes, and inline code, bold, italics, links and images. Everything else is
 * text. All text is HTML-escaped; link targets go through `rewriteHref` and are dropped (kept as
 * text) when they are not http(s), mailto, a fragment or a relative path.
 *
 * It is not a general CommonMark implementation: it covers what docs/ uses, and the docs-link
 * test renders every page with it.
 */

export interface MarkdownOptions {
  /** Maps a link or image target as written (e.g. "objective.md#defaults") to the one to emit. */
  rewriteHref?: (href: string) => string;
}

export interface RenderedMarkdown {
  html: string;
  /** The first level-1 heading's text, for the page title. */
  title: string;
  /** Every heading id in document order (what #anchors may point at). */
  ids: string[];
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * GitHub's heading slug: markup removed, lower case, every character that is not a letter,
 * digit, space, hyphen or underscore dropped, spaces to hyphens. Repeats get -1, -2, ...
 */
export function headingSlug(text: string): string {
  return plainText(text)
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
    .replace(/ /g, '-');
}

/** The text of inline markdown, without its markup (for slugs and titles). */
export function plainText(inline: string): string {
  return inline
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`([^`]*)`/g, '$1')
    .replace(/\*\*([^*]+)\*\*/g, '$1')
    .replace(/\*([^*]+)\*/g, '$1')
    .replace(/\\([\\`*_[\]()#|!-])/g, '$1')
    .trim();
}

const SAFE_HREF = /^(https?:|mailto:|#|[^:]*$)/i;

function renderInline(src: string, options: MarkdownOptions): string {
  const rewrite = options.rewriteHref ?? ((h: string) => h);
  let out = '';
  let i = 0;
  let text = '';
  const flush = () => {
    out += escapeHtml(text);
    text = '';
  };
  while (i < src.length) {
    const rest = src.slice(i);
    let m: RegExpExecArray | null;
    if (rest[0] === '\\' && /^\\[\\`*_[\]()#|!<>-]/.test(rest)) {
      text += rest[1];
      i += 2;
    } else if ((m = /^(`+)([\s\S]*?[^`])\1(?!`)/.exec(rest))) {
      flush();
      out += `<code>${escapeHtml(m[2].trim() === '' ? m[2] : m[2].replace(/^ (.*) $/, '$1'))}</code>`;
      i += m[0].length;
    } else if ((m = /^!\[([^\]]*)\]\(([^)\s]+)\)/.exec(rest))) {
      flush();
      out += SAFE_HREF.test(m[2]) ? `<img src="${escapeHtml(rewrite(m[2]))}" alt="${escapeHtml(m[1])}">` : escapeHtml(m[0]);
      i += m[0].length;
    } else if ((m = /^\[((?:[^\]\\]|\\.)*)\]\(([^)\s]+)\)/.exec(rest))) {
      flush();
      const label = renderInline(m[1], options);
      out += SAFE_HREF.test(m[2]) ? `<a href="${escapeHtml(rewrite(m[2]))}">${label}</a>` : label;
      i += m[0].length;
    } else if ((m = /^\*\*(?=\S)([\s\S]*?\S)\*\*/.exec(rest))) {
      flush();
      out += `<strong>${renderInline(m[1], options)}</strong>`;
      i += m[0].length;
    } else if ((m = /^\*(?=[^\s*])([\s\S]*?[^\s*])\*(?!\*)/.exec(rest))) {
      flush();
      out += `<em>${renderInline(m[1], options)}</em>`;
      i += m[0].length;
    } else {
      text += rest[0];
      i += 1;
    }
  }
  flush();
  return out;
}

const FENCE = /^(\s*)(```+|~~~+)\s*([\w+-]*)\s*$/;
const HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
const LIST_ITEM = /^(\s*)([-*+]|\d+[.)])\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function splitRow(line: string): string[] {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  const cells: string[] = [];
  let cell = '';
  let inCode = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\' && s[i + 1] === '|') {
      cell += '\\|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cell += c;
    } else if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

function alignments(sep: string): string[] {
  return splitRow(sep).map((c) => (c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : c.startsWith(':') ? 'left' : ''));
}

/** In a table cell, `\|` is a literal pipe even inside a code span (GitHub's rule). */
function cellInline(cell: string, options: MarkdownOptions): string {
  return renderInline(cell.replace(/`[^`]*`/g, (code) => code.replace(/\\\|/g, '|')), options);
}

interface Context {
  options: MarkdownOptions;
  ids: string[];
  seen: Map<string, number>;
  title: string;
}

function uniqueId(ctx: Context, text: string): string {
  const base = headingSlug(text);
  const n = ctx.seen.get(base) ?? 0;
  ctx.seen.set(base, n + 1);
  const id = n === 0 ? base : `${base}-${n}`;
  ctx.ids.push(id);
  return id;
}

const indentOf = (line: string) => /^\s*/.exec(line)![0].length;

function renderBlocks(lines: string[], ctx: Context, tight = false): string {
  const out: string[] = [];
  let i = 0;
  const isBlank = (l: string | undefined) => l === undefined || l.trim() === '';
  while (i < lines.length) {
    const line = lines[i];
    if (isBlank(line)) {
      i++;
      continue;
    }
    let m: RegExpExecArray | null;
    if ((m = FENCE.exec(line))) {
      const fence = m[2];
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
      i++;
      const lang = m[3] ? ` class="language-${escapeHtml(m[3])}"` : '';
      out.push(`<pre><code${lang}>${escapeHtml(body.join('\n'))}</code></pre>`);
    } else if ((m = HEADING.exec(line))) {
      const level = m[1].length;
      if (level === 1 && !ctx.title) ctx.title = plainText(m[2]);
      const id = uniqueId(ctx, m[2]);
      out.push(`<h${level} id="${escapeHtml(id)}"><a class="anchor" href="#${escapeHtml(id)}" aria-hidden="true">#</a>${renderInline(m[2], ctx.options)}</h${level}>`);
      i++;
    } else if (line.includes('|') && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      const head = splitRow(line);
      const align = alignments(lines[i + 1]);
      const attr = (k: number) => (align[k] ? ` style="text-align:${align[k]}"` : '');
      i += 2;
      const rows: string[][] = [];
      while (i < lines.length && !isBlank(lines[i]) && lines[i].includes('|')) rows.push(splitRow(lines[i++]));
      const th = head.map((c, k) => `<th${attr(k)}>${cellInline(c, ctx.options)}</th>`).join('');
      const tb = rows.map((r) => `<tr>${head.map((_, k) => `<td${attr(k)}>${cellInline(r[k] ?? '', ctx.options)}</td>`).join('')}</tr>`).join('\n');
      out.push(`<table>\n<thead><tr>${th}</tr></thead>\n<tbody>\n${tb}\n</tbody>\n</table>`);
    } else if ((m = LIST_ITEM.exec(line))) {
      const baseIndent = m[1].length;
      const ordered = /\d/.test(m[2]);
      const items: string[][] = [];
      let looseList = false;
      while (i < lines.length) {
        const im = LIST_ITEM.exec(lines[i]);
        if (!im || im[1].length !== baseIndent || /\d/.test(im[2]) !== ordered) break;
        const contentIndent = baseIndent + im[2].length + 1;
        const item = [im[3]];
        i++;
        while (i < lines.length) {
          if (isBlank(lines[i])) {
            // A blank line continues the item only when indented content follows.
            if (i + 1 < lines.length && !isBlank(lines[i + 1]) && indentOf(lines[i + 1]) > baseIndent) {
              item.push('');
              looseList = true;
              i++;
              continue;
            }
            break;
          }
          const l = lines[i];
          const ind = indentOf(l);
          if (ind <= baseIndent && (LIST_ITEM.test(l) || HEADING.test(l) || FENCE.test(l))) break;
          if (ind <= baseIndent && LIST_ITEM.test(l) === false && item.length > 0 && isBlank(item[item.length - 1])) break;
          item.push(ind >= contentIndent ? l.slice(contentIndent) : l.trimStart());
          i++;
        }
        items.push(item);
        if (i < lines.length && isBlank(lines[i]) && i + 1 < lines.length) {
          const next = LIST_ITEM.exec(lines[i + 1]);
          if (next && next[1].length === baseIndent && /\d/.test(next[2]) === ordered) {
            looseList = true;
            i++;
          }
        }
      }
      const start = ordered ? Number(/\d+/.exec(m[2])![0]) : 1;
      const tag = ordered ? 'ol' : 'ul';
      const startAttr = ordered && start !== 1 ? ` start="${start}"` : '';
      const lis = items.map((item) => `<li>${renderBlocks(item, ctx, !looseList)}</li>`).join('\n');
      out.push(`<${tag}${startAttr}>\n${lis}\n</${tag}>`);
    } else if (/^\s*>/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*> ?/, ''));
      out.push(`<blockquote>\n${renderBlocks(body, ctx)}\n</blockquote>`);
    } else {
      const para: string[] = [];
      while (
        i < lines.length &&
        !isBlank(lines[i]) &&
        !FENCE.test(lines[i]) &&
        !HEADING.test(lines[i]) &&
        !(para.length > 0 && LIST_ITEM.test(lines[i])) &&
        !/^\s*>/.test(lines[i])
      ) {
        para.push(lines[i++].trim());
      }
      const inline = renderInline(para.join('\n'), ctx.options);
      out.push(tight && out.length === 0 && i >= lines.length ? inline : `<p>${inline}</p>`);
    }
  }
  return out.join('\n');
}

/** Renders a Markdown document; heading ids follow GitHub's, so the same #anchors work there. */
export function renderMarkdown(source: string, options: MarkdownOptions = {}): RenderedMarkdown {
  const ctx: Context = { options, ids: [], seen: new Map(), title: '' };
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const html = renderBlocks(lines, ctx);
  return { html, title: ctx.title, ids: ctx.ids };
}

/** Heading ids of a Markdown document, exactly as `renderMarkdown` assigns them. */
export function headingIds(source: string): string[] {
  return renderMarkdown(source).ids;
}
