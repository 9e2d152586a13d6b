/** Shared set-up for the torch-engine tests: textured images (crops differ) and tiny HF checkpoints built by transformers. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { PYTHON, REPO_ROOT } from './python-env';

/** A silkie-jsonl dataset of `n` 40x30 PNGs, each a different gradient, so a crop (m') differs from the whole (m). */
export async function writeGradientDataset(dir: string, n: number): Promise<string> {
  const root = join(dir, 'gradients');
  mkdirSync(join(root, 'images'), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const [w, h] = [40, 30];
    const px = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) px.set([(x * 6 + i * 20) & 255, (y * 8) & 255, ((x * y) >> 2) & 255], (y * w + x) * 3);
    writeFileSync(join(root, 'images', `${i}.png`), await sharp(px, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
    lines.push(JSON.stringify({ img_path: `images/${i}.png`, prompt: `<image>\nWhat is in picture ${i}?`, chosen: `Stripes ${i}.`, rejected: `A dog ${i}.` }));
  }
  writeFileSync(join(root, 'data.jsonl'), lines.join('\n') + '\n');
  return root;
}

/** A tiny random checkpoint of `family`, written by python/tests/builders.py (transformers itself; nothing downloaded). */
export function buildTinyCheckpoint(family: string, out: string): string {
  const script = [
    'import sys',
    'from pathlib import Path',
    `sys.path.insert(0, ${JSON.stringify(join(REPO_ROOT, 'python', 'tests'))})`,
    'import builders',
    `getattr(builders, "build_" + sys.argv[1])(Path(sys.argv[2]))`,
  ].join('\n');
  execFileSync(PYTHON!, ['-c', script, family, out], { env: { ...process.env, HF_HUB_OFFLINE: '1' }, stdio: ['ignore', 'ignore', 'pipe'] });
  return out;
}
