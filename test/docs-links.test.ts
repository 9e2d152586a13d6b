/**
 * Issue 22: the documentation is in the repository and every reference to it resolves.
 * - no file names the three spec files that never were in the repository;
 * - every relative Markdown link, image and #anchor in README.md, docs/, src/, test/, scripts/
 *   and bench/ resolves (anchors by GitHub's heading slugs, which the docs pages also use);
 * - every repository path named in Markdown or in source comments exists;
 * - every help link of the UI (New run fields, the Header's Help, docsHref calls) opens an
 *   existing page and section.
 * The checker itself is tested on a planted tree, so it can fail.
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { headingIds } from '../src/main/docs/markdown';
import { DOCS_INDEX_HREF, docsHref, fieldDocHref, fieldSection } from '../src/renderer/src/lib/docs-links';
import { ALL_FIELDS } from '../src/renderer/src/lib/run-form';
import { FORBIDDEN_NAMES, checkDocs, formatProblems } from './docs-check';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Paths that look like the repository's but are not, with the reason (each covers what lies under it). */
const ALLOW_MISSING = new Set([
  // The packed desktop app's resources folder (process.resourcesPath): the Electron build of
  // better-sqlite3, the asar and what is unpacked beside it. Not folders of the repository.
  'resources/native',
  'resources/app.asar',
]);

const ids = (page: string) => new Set(headingIds(readFileSync(join(ROOT, 'docs', `${page}.md`), 'utf8')));

describe('documentation references (issue 22)', () => {
  const problems = checkDocs(ROOT, ALLOW_MISSING);

  it('no file refers to spec files outside the repository', () => {
    expect(formatProblems(problems.filter((p) => p.message.startsWith('refers to')))).toBe('');
  });

  it('every relative Markdown link, image and #anchor resolves', () => {
    expect(formatProblems(problems.filter((p) => p.message.startsWith('link ')))).toBe('');
  });

  it('every repository path named in Markdown or in source comments exists', () => {
    expect(formatProblems(problems.filter((p) => p.message.startsWith('names ')))).toBe('');
  });

  it('the docs have the pages the app and the README link to', () => {
    for (const page of ['README', 'objective', 'run-settings', 'world', 'metrics', 'architecture', 'data-formats']) {
      expect(statSync(join(ROOT, 'docs', `${page}.md`)).isFile(), page).toBe(true);
    }
  });
});

describe('help links of the UI', () => {
  const settings = ids('run-settings');

  it('every New run field links to its own section of docs/run-settings.md', () => {
    // The fields of FIELD_GROUPS (Field.svelte adds their link) plus the rows RunForm.svelte
    // draws itself, each of which must carry its own fieldDocHref link.
    const form = readFileSync(join(ROOT, 'src/renderer/src/components/run/RunForm.svelte'), 'utf8');
    const rows = [...form.matchAll(/class="field-row" data-field="(\w+)"/g)].map((m) => m[1]!);
    expect(rows).toEqual(expect.arrayContaining(['name', 'datasetId', 'baseModel']));
    const unlinked = rows.filter((r) => !form.includes(`fieldDocHref('${r}')`));
    expect(unlinked, 'RunForm.svelte rows without a help link').toEqual([]);
    expect(readFileSync(join(ROOT, 'src/renderer/src/components/run/Field.svelte'), 'utf8')).toContain('href={fieldDocHref(spec.path)}');
    const paths = [...ALL_FIELDS.map((f) => f.path), ...rows];
    const missing = paths.filter((p) => !settings.has(fieldSection(p)));
    expect(missing, `add a "### \`<path>\`" section to docs/run-settings.md for: ${missing.join(', ')}`).toEqual([]);
    expect(fieldDocHref('negative.cropMin')).toBe('docs/run-settings.html#negativecropmin');
    expect(new Set(paths.map(fieldSection)).size).toBe(paths.length);
  });

  it('every docsHref(page, section) in the renderer names an existing page and heading', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (/\.(svelte|ts)$/.test(e.name)) files.push(join(dir, e.name));
      }
    };
    walk(join(ROOT, 'src', 'renderer', 'src'));
    const calls: string[] = [];
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(/docsHref\('([\w/-]+)'(?:,\s*'([\w-]+)')?\)/g)) {
        const [, page, section] = m;
        calls.push(`${page}#${section ?? ''}`);
        const ok = section === undefined ? statSync(join(ROOT, 'docs', `${page}.md`)).isFile() : ids(page!).has(section);
        expect(ok, `${file}: docsHref('${page}', '${section}')`).toBe(true);
      }
    }
    expect(calls).toContain('objective#defaults');
    expect(docsHref('objective', 'defaults')).toBe('docs/objective.html#defaults');
  });

  it("the header's Help entry opens the docs index", () => {
    expect(DOCS_INDEX_HREF).toBe('docs/');
    expect(readFileSync(join(ROOT, 'src/renderer/src/components/Header.svelte'), 'utf8')).toMatch(/href=\{DOCS_INDEX_HREF\}[^>]*>Help</);
    expect(statSync(join(ROOT, 'docs', 'README.md')).isFile()).toBe(true);
  });
});

describe('the checker finds what it must', () => {
  const temp = mkdtempSync(join(tmpdir(), 'docs-check-'));
  afterAll(() => rmSync(temp, { recursive: true, force: true }));
  const put = (rel: string, text: string) => {
    mkdirSync(dirname(join(temp, rel)), { recursive: true });
    writeFileSync(join(temp, rel), text);
  };

  it('reports each planted problem once, with file and line, and nothing else', () => {
    const LATER = ['src', 'later'].join('/'); // allowed while missing; spelled so this file does not name it
    put('README.md', `# Top\n\nSee [the page](docs/page.md#second-part) and [gone](docs/gone.md).\n\n![pic](docs/pic.png)\n`);
    put('docs/page.md', `# Page\n\n## Second part\n\n[bad anchor](page.md#third) [self](#page) [web](https://example.com/x.md)\n\n\`\`\`\n[in code](nowhere.md)\n\`\`\`\n`);
    put('docs/pic.png', 'png');
    put('src/a.ts', `// Spec: ${FORBIDDEN_NAMES[0]}, code in src/b.ts and src/gone.ts; tests in test/x-*.test.ts\nconst label = 'src/not-a-path';\n/* see ${LATER} */\nexport {};\n`);
    put('src/b.ts', 'export {};\n');
    put('test/c.ts', '// see docs/page.md#second-part and docs/page.md#first-part\nexport {};\n');
    put('src/core/test/helper.ts', 'export {};\n');
    put('src/core/README.md', 'Uses test/helper.ts (beside this file) and test/nope.ts.\n');
    put('python/tool.py', `# see ${FORBIDDEN_NAMES[2]}\n`);
    const found = formatProblems(checkDocs(temp, new Set([LATER])));
    expect(found.split('\n').sort()).toEqual(
      [
        'README.md:3: link "docs/gone.md": docs/gone.md does not exist',
        'README.md:3: names docs/gone.md, which does not exist',
        'docs/page.md:5: link "page.md#third": no heading with id "third" in docs/page.md',
        `src/a.ts:1: refers to ${FORBIDDEN_NAMES[0]}, which is not in the repository (point at docs/ instead)`,
        'src/a.ts:1: names src/gone.ts, which does not exist',
        'test/c.ts:1: names docs/page.md#first-part, but docs/page.md has no such heading',
        'src/core/README.md:1: names test/nope.ts, which does not exist',
        `python/tool.py:1: refers to ${FORBIDDEN_NAMES[2]}, which is not in the repository (point at docs/ instead)`,
      ].sort(),
    );
  });
});
