/**
 * The documentation link check (issue 22), as plain functions over a folder so that its own
 * test can run it on a planted tree:
 *  - no file names one of the three spec files that used to live outside the repository;
 *  - every relative Markdown link or image resolves to a file or folder of the repository, and
 *    every #anchor into a Markdown file names one of its headings (GitHub's slugs, as the docs
 *    pages are rendered with the same ids);
 *  - every repository path written in prose or code (`src/...`, `docs/...`, `test/...`, ...)
 *    exists.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { headingIds } from '../src/main/docs/markdown';

/** The names that must not appear anywhere (built here so this file does not contain them). */
export const FORBIDDEN_NAMES = ['MDPO', 'SHAPES', 'DESIGN'].map((n) => `${n}.md`);

/** Folders (and top-level files) whose references are checked. */
export const CHECKED_ROOTS = ['README.md', 'docs', 'src', 'test', 'scripts', 'bench'];
/** Scanned for the forbidden names only (work in progress may live here). */
export const NAME_ONLY_ROOTS = ['python', '.ci', 'eslint.config.js', 'package.json', 'electron.vite.config.ts'];

const SKIP_DIRS = new Set(['node_modules', 'out', 'dist', '.git', 'test-artifacts', 'runs', '.venv', '__pycache__', 'coverage']);
const TEXT_EXT = /\.(md|ts|js|mjs|cjs|svelte|json|jsonl|py|sh|ya?ml|toml|txt|html|css)$|^run$/;
/** Paths that point into the repository when written from its root. */
const REPO_PATH = /(?<![\w./@-])((?:docs|src|test|scripts|bench|resources|python)\/[\w.@/-]*[\w-])/g;

export interface Problem {
  file: string;
  line: number;
  message: string;
}

function walk(root: string, rel: string, out: string[]): void {
  const abs = join(root, rel);
  if (!existsSync(abs)) return;
  if (statSync(abs).isFile()) {
    if (TEXT_EXT.test(rel.split('/').pop()!)) out.push(rel);
    return;
  }
  for (const entry of readdirSync(abs, { withFileTypes: true })) {
    if (entry.isDirectory() && (SKIP_DIRS.has(entry.name) || entry.name.startsWith('.scratch'))) continue;
    walk(root, rel ? `${rel}/${entry.name}` : entry.name, out);
  }
}

export function listFiles(root: string, roots: readonly string[]): string[] {
  const out: string[] = [];
  for (const r of roots) walk(root, r, out);
  return out.sort();
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

/** Markdown with fenced code and inline code blanked out (same length, so line numbers hold). */
function proseOnly(md: string): string {
  return md
    .replace(/^(```|~~~)[\s\S]*?^\1.*$/gm, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/`[^`\n]*`/g, (m) => ' '.repeat(m.length));
}

const headingCache = new Map<string, Set<string>>();
function anchorsOf(absFile: string): Set<string> {
  let ids = headingCache.get(absFile);
  if (!ids) {
    ids = new Set(headingIds(readFileSync(absFile, 'utf8')));
    headingCache.set(absFile, ids);
  }
  return ids;
}

function inside(root: string, abs: string): boolean {
  return abs === root || abs.startsWith(root + sep);
}

/** Relative links and images of one Markdown file. */
export function checkMarkdownLinks(root: string, file: string): Problem[] {
  const problems: Problem[] = [];
  const absRoot = resolve(root);
  const absFile = join(absRoot, file);
  const text = proseOnly(readFileSync(absFile, 'utf8'));
  const link = /!?\[(?:[^\]\\]|\\.)*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g;
  for (const m of text.matchAll(link)) {
    const target = m[1]!;
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http(s), mailto, ...
    const hash = target.indexOf('#');
    const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? null : target.slice(hash + 1);
    const line = lineOf(text, m.index!);
    const abs = path === '' ? absFile : resolve(dirname(absFile), path);
    if (!inside(absRoot, abs)) {
      problems.push({ file, line, message: `link "${target}" leaves the repository` });
      continue;
    }
    if (!existsSync(abs)) {
      problems.push({ file, line, message: `link "${target}": ${relative(absRoot, abs)} does not exist` });
      continue;
    }
    if (anchor && abs.endsWith('.md') && !anchorsOf(abs).has(anchor)) {
      problems.push({ file, line, message: `link "${target}": no heading with id "${anchor}" in ${relative(absRoot, abs)}` });
    }
  }
  return problems;
}

/** The comments of a source file (where prose names files), blanked elsewhere to keep line numbers. */
function commentsOnly(file: string, text: string): string {
  if (file.endsWith('.md') || file.endsWith('.txt')) return text;
  const keep = new Array<boolean>(text.length).fill(false);
  const patterns = /\.(py|sh|ya?ml|toml)$|^(.*\/)?run$/.test(file) ? [/#.*$/gm] : [/\/\*[\s\S]*?\*\//g, /(?<![:'"`])\/\/.*$/gm, /<!--[\s\S]*?-->/g];
  for (const re of patterns) for (const m of text.matchAll(re)) for (let i = m.index!; i < m.index! + m[0].length; i++) keep[i] = true;
  return [...text].map((c, i) => (keep[i] || c === '\n' ? c : ' ')).join('');
}

/** Source files are referenced without their extension in import-style prose ("src/shared/schemas"). */
const IMPLIED_EXT = ['', '.ts', '.svelte', '.js', '.mjs', '.svelte.ts'];

/**
 * Repository paths named in a Markdown file (prose and code) or in a source file's comments,
 * from the repository root or from the file's own folder.
 * A path followed by a glob or placeholder character ("test/hf-*.test.ts") is a pattern, not a
 * file, and is skipped.
 */
export function checkRepoPaths(root: string, file: string, allowMissing: ReadonlySet<string> = new Set()): Problem[] {
  const problems: Problem[] = [];
  const text = commentsOnly(file, readFileSync(join(root, file), 'utf8'));
  for (const m of text.matchAll(REPO_PATH)) {
    const next = text[m.index! + m[0].length] ?? '';
    if ('*<{$'.includes(next) && next !== '') continue;
    const path = m[1]!.replace(/\.+$/, '');
    if ([...allowMissing].some((a) => path === a || path.startsWith(`${a}/`) || path.startsWith(`${a}.`))) continue;
    // From the repository root, or from the file's own folder (a package README naming its own files).
    const exists = (base: string) => IMPLIED_EXT.some((ext) => existsSync(join(base, path + ext)));
    if (!exists(root) && !exists(join(root, dirname(file)))) {
      problems.push({ file, line: lineOf(text, m.index!), message: `names ${path}, which does not exist` });
      continue;
    }
    // "docs/objective.md#defaults": the section must exist too.
    const anchor = path.endsWith('.md') ? /^#([\w-]+)/.exec(text.slice(m.index! + m[0].length))?.[1] : undefined;
    if (anchor && !anchorsOf(resolve(root, path)).has(anchor)) {
      problems.push({ file, line: lineOf(text, m.index!), message: `names ${path}#${anchor}, but ${path} has no such heading` });
    }
  }
  return problems;
}

export function checkForbiddenNames(root: string, file: string): Problem[] {
  const problems: Problem[] = [];
  const text = readFileSync(join(root, file), 'utf8');
  for (const name of FORBIDDEN_NAMES) {
    for (let i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) {
      problems.push({ file, line: lineOf(text, i), message: `refers to ${name}, which is not in the repository (point at docs/ instead)` });
    }
  }
  return problems;
}

/** Every problem of the tree at `root`; `allowMissing`: paths (and what lies under them) that are not the repository's. */
export function checkDocs(root: string, allowMissing: ReadonlySet<string> = new Set()): Problem[] {
  const checked = listFiles(root, CHECKED_ROOTS);
  const nameOnly = listFiles(root, NAME_ONLY_ROOTS);
  return [
    ...[...checked, ...nameOnly].flatMap((f) => checkForbiddenNames(root, f)),
    ...checked.filter((f) => f.endsWith('.md')).flatMap((f) => checkMarkdownLinks(root, f)),
    ...checked.flatMap((f) => checkRepoPaths(root, f, allowMissing)),
  ];
}

export const formatProblems = (ps: readonly Problem[]) => ps.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');
