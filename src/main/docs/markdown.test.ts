import { describe, expect, it } from 'vitest';
import { docsHref } from './pages';
import { headingSlug, renderMarkdown } from './markdown';

describe('headingSlug (GitHub-compatible ids)', () => {
  it.each([
    ['The objective', 'the-objective'],
    ["The corrupted image m'", 'the-corrupted-image-m'],
    ['`negative.cropMin`', 'negativecropmin'],
    ["The built-in world's annotations", 'the-built-in-worlds-annotations'],
    ['Gaps in tfjs 4.22: **filled**', 'gaps-in-tfjs-422-filled'],
    ['Why mDPO?', 'why-mdpo'],
    ['snake_case and β', 'snake_case-and-β'],
  ])('%s -> %s', (text, slug) => expect(headingSlug(text)).toBe(slug));

  it('numbers repeated headings as GitHub does', () => {
    expect(renderMarkdown('# A\n## Notes\n## Notes\n### Notes').ids).toEqual(['a', 'notes', 'notes-1', 'notes-2']);
  });
});

describe('renderMarkdown', () => {
  it('headings carry their id and a self link; the first h1 is the title', () => {
    const r = renderMarkdown('# Top *page*\n\n## `beta`\n');
    expect(r.title).toBe('Top page');
    expect(r.html).toBe(
      '<h1 id="top-page"><a class="anchor" href="#top-page" aria-hidden="true">#</a>Top <em>page</em></h1>\n' +
        '<h2 id="beta"><a class="anchor" href="#beta" aria-hidden="true">#</a><code>beta</code></h2>',
    );
  });

  it('paragraphs, inline markup and escaping', () => {
    expect(renderMarkdown('A **bold** and *it* `a<b>` line\njoined. 1 < 2 & "q"').html).toBe(
      '<p>A <strong>bold</strong> and <em>it</em> <code>a&lt;b&gt;</code> line\njoined. 1 &lt; 2 &amp; &quot;q&quot;</p>',
    );
    expect(renderMarkdown('<script>alert(1)</script>').html).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
  });

  it('links go through rewriteHref; unsafe schemes become text', () => {
    const html = renderMarkdown('[a](objective.md#defaults) [b](https://x.org) [c](javascript:void) ![i](p.png)', { rewriteHref: docsHref }).html;
    expect(html).toBe(
      '<p><a href="objective.html#defaults">a</a> <a href="https://x.org">b</a> c <img src="p.png" alt="i"></p>',
    );
  });

  it('fenced code keeps its text verbatim and escaped', () => {
    expect(renderMarkdown('```ts\nconst a = b < c; // **not bold**\n```').html).toBe(
      '<pre><code class="language-ts">const a = b &lt; c; // **not bold**</code></pre>',
    );
  });

  it('tables: header, alignment, escaped pipes and code in cells', () => {
    const html = renderMarkdown('| a | b |\n|---|--:|\n| `x \\| y` | p(y \\| m) |\n| 1 |').html;
    expect(html).toBe(
      '<table>\n<thead><tr><th>a</th><th style="text-align:right">b</th></tr></thead>\n<tbody>\n' +
        '<tr><td><code>x | y</code></td><td style="text-align:right">p(y | m)</td></tr>\n' +
        '<tr><td>1</td><td style="text-align:right"></td></tr>\n</tbody>\n</table>',
    );
  });

  it('lists: tight, numbered with a start, nested, with wrapped lines', () => {
    expect(renderMarkdown('- one\n  wrapped\n- two\n  - inner').html).toBe(
      '<ul>\n<li>one\nwrapped</li>\n<li><p>two</p>\n<ul>\n<li>inner</li>\n</ul></li>\n</ul>',
    );
    expect(renderMarkdown('3. c\n4. d').html).toBe('<ol start="3">\n<li>c</li>\n<li>d</li>\n</ol>');
  });

  it('a table inside a list item', () => {
    const html = renderMarkdown('- item:\n\n  | h |\n  |---|\n  | v |\n- next').html;
    expect(html).toContain('<li><p>item:</p>\n<table>');
    expect(html).toContain('<td>v</td>');
    expect(html).toContain('<li><p>next</p></li>');
  });
});

describe('docsHref', () => {
  it.each([
    ['objective.md', 'objective.html'],
    ['objective.md#defaults', 'objective.html#defaults'],
    ['results/demo/results.md', 'results/demo/results.html'],
    ['screenshots/run.png', 'screenshots/run.png'],
    ['#local', '#local'],
    ['https://arxiv.org/abs/2406.11839', 'https://arxiv.org/abs/2406.11839'],
  ])('%s -> %s', (from, to) => expect(docsHref(from)).toBe(to));
});
