/**
 * Fingerprints of a model folder and an adapter folder: sha256 over each file's name and bytes
 * (files up to 64 MiB) or name, size and modification time (larger weight shards: hashing
 * gigabytes on every answer job would take minutes). Sorted by name; sub-folders are skipped.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

const HASH_LIMIT = 64 * 1024 * 1024;

export async function folderFingerprint(dir: string): Promise<string> {
  const h = createHash('sha256');
  const names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name).sort();
  if (names.length === 0) throw new Error(`${dir} holds no files to fingerprint`);
  for (const name of names) {
    const p = join(dir, name);
    const s = await stat(p);
    h.update(`${name}\0${s.size}\0`);
    if (s.size <= HASH_LIMIT) h.update(await readFile(p));
    else h.update(`mtime:${s.mtimeMs}\0`);
  }
  return h.digest('hex');
}

/** The key answers are stored under: same model, adapter and settings -> same answers. */
export function answerKey(modelFingerprint: string, adapterFingerprint: string | null, settings: { maxTokens: number; temperature: number; seed: number }): string {
  // Greedy answers do not depend on the seed: leave it out so they are reused across seeds.
  const s = settings.temperature > 0 ? settings : { ...settings, seed: 0 };
  return createHash('sha256').update(JSON.stringify([modelFingerprint, adapterFingerprint, s.maxTokens, s.temperature, s.seed])).digest('hex');
}
