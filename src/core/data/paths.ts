/**
 * Image paths resolve relative to the dataset folder, and must stay inside it: `..`, an
 * absolute path elsewhere, or a symlink pointing out are refused. Read-only: nothing here
 * writes to the user's folder.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export type ResolvedPath =
  | { ok: true; abs: string; rel: string }
  | { ok: false; code: 'image-path-escape' | 'image-not-found' | 'image-not-a-file' | 'image-unreadable'; detail: string };

function outside(baseDir: string, p: string): boolean {
  const rel = path.relative(baseDir, p);
  return rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel);
}

/** `baseDir` must already be a real path (detectDataset returns one). */
export async function resolveImagePath(baseDir: string, given: string): Promise<ResolvedPath> {
  if (given.trim() === '') return { ok: false, code: 'image-not-found', detail: 'is an empty path' };
  if (given.includes('\0')) {
    return { ok: false, code: 'image-not-found', detail: `${JSON.stringify(given)} contains a NUL byte (\\0, at character ${given.indexOf('\0') + 1}); no file name can hold one` };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(given)) {
    return { ok: false, code: 'image-not-found', detail: `${JSON.stringify(given)} is a URL; images must be files inside the dataset folder (nothing is downloaded)` };
  }
  // Datasets written on Windows use backslashes; on POSIX they are separators too.
  const portable = path.sep === '/' ? given.replace(/\\/g, '/') : given;
  const abs = path.resolve(baseDir, portable);
  if (outside(baseDir, abs)) {
    return { ok: false, code: 'image-path-escape', detail: `${JSON.stringify(given)} points outside the dataset folder ${baseDir}; refused` };
  }
  let real: string;
  try {
    real = await fs.realpath(abs);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: 'image-not-found', detail: `${JSON.stringify(given)} does not exist (looked for ${abs})` };
    return { ok: false, code: 'image-unreadable', detail: `${JSON.stringify(given)} cannot be resolved (${code ?? (e as Error).message})` };
  }
  if (outside(baseDir, real)) {
    return { ok: false, code: 'image-path-escape', detail: `${JSON.stringify(given)} is a link to ${real}, outside the dataset folder; refused` };
  }
  try {
    const st = await fs.stat(real);
    if (!st.isFile()) return { ok: false, code: 'image-not-a-file', detail: `${JSON.stringify(given)} is not a regular file` };
  } catch (e) {
    return { ok: false, code: 'image-unreadable', detail: `${JSON.stringify(given)} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  return { ok: true, abs: real, rel: path.relative(baseDir, real) };
}
