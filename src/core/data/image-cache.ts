/**
 * A disk cache of decoded, resized images (8-bit RGB, HWC), keyed by the source bytes'
 * sha256 and the preprocessing parameters, so epochs (and later runs) do not re-decode.
 * Writes are atomic (temp file + rename); a short or damaged entry is a miss, not an error.
 * 8-bit is exact: sharp's resize output is 8-bit, and [0, 1] floats are derived on read.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** Bump when the decode pipeline changes, so stale entries are never reused. */
export const CACHE_VERSION = 1;

export class ImageCache {
  constructor(readonly dir: string) {}

  /** The entry key for a content hash and the parameters that shape the pixels. */
  static key(contentSha256: string, params: Record<string, unknown>): string {
    return createHash('sha256')
      .update(JSON.stringify({ v: CACHE_VERSION, content: contentSha256, params }))
      .digest('hex');
  }

  pathOf(key: string): string {
    return path.join(this.dir, key.slice(0, 2), `${key}.rgb`);
  }

  /** The cached pixels when present with exactly `expectedBytes` bytes, else undefined. */
  getSync(key: string, expectedBytes: number): Uint8Array | undefined {
    try {
      const buf = fs.readFileSync(this.pathOf(key));
      return buf.length === expectedBytes ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : undefined;
    } catch {
      return undefined;
    }
  }

  async get(key: string, expectedBytes: number): Promise<Uint8Array | undefined> {
    try {
      const buf = await fsp.readFile(this.pathOf(key));
      return buf.length === expectedBytes ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : undefined;
    } catch {
      return undefined;
    }
  }

  /** Atomic: readers see the whole entry or none. */
  async set(key: string, pixels: Uint8Array): Promise<void> {
    const file = this.pathOf(key);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fsp.writeFile(tmp, pixels);
      await fsp.rename(tmp, file);
    } catch (e) {
      await fsp.rm(tmp, { force: true });
      throw e;
    }
  }
}
