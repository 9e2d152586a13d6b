/** Test helpers: tiny images and datasets written into temporary folders. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

export async function tempDir(prefix = 'mdpo-data-'): Promise<string> {
  return fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), prefix)));
}

/** A small PNG with a colour gradient (so crops differ from the original). */
export async function tinyPng(width = 8, height = 8, seed = 0): Promise<Buffer> {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      px[o] = (x * 255) / Math.max(1, width - 1);
      px[o + 1] = (y * 255) / Math.max(1, height - 1);
      px[o + 2] = (seed * 53 + x * 17 + y * 29) % 256;
    }
  }
  return sharp(px, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export async function tinyJpeg(width = 8, height = 8, seed = 0): Promise<Buffer> {
  return sharp(await tinyPng(width, height, seed)).jpeg({ quality: 90 }).toBuffer();
}

/** Writes files (text or bytes) under dir, creating folders. */
export async function writeFiles(dir: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(dir, rel);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.writeFile(abs, content);
  }
}

/** A valid mDPO/Silkie record pointing at `img`. */
export function silkie(img: string, k = 0): Record<string, string> {
  return { img_path: img, prompt: `<image>\nWhat is in picture ${k}?`, chosen: `A red square ${k}.`, rejected: `A blue circle ${k}.` };
}

/** Snapshot of every file's bytes under dir (to prove import never writes). */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  async function walk(d: string): Promise<void> {
    for (const e of await fs.readdir(d, { withFileTypes: true })) {
      const abs = path.join(d, e.name);
      if (e.isDirectory()) await walk(abs);
      else if (e.isFile()) out.set(path.relative(dir, abs), (await fs.readFile(abs)).toString('base64'));
      else if (e.isSymbolicLink()) out.set(path.relative(dir, abs), `link:${await fs.readlink(abs)}`);
    }
  }
  await walk(dir);
  return out;
}
