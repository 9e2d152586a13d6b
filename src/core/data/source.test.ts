import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng';
import { checkPreferenceSource } from '../train/preference-task';
import { ImageCache } from './image-cache';
import { importDataset } from './import';
import { previewNegatives } from './preview';
import { createPreferenceSource } from './source';
import { tempDir, tinyPng, writeFiles } from './testing/fixtures';
import type { PreferenceRecord } from './types';
import sharp from 'sharp';

/** A word-level stand-in for src/core/model's TextTokenizer. */
const tokenizer = { encode: (t: string) => t.split(/\s+/).filter(Boolean).map((w) => 10 + (w.length % 50)) };
const EOS = 2;

let dir: string;
let records: PreferenceRecord[];
beforeAll(async () => {
  dir = await tempDir('data-source-');
  await writeFiles(dir, {
    'images/a.png': await tinyPng(12, 10, 0),
    'images/b.png': await tinyPng(10, 12, 1),
    'images/c.png': await tinyPng(8, 8, 2),
    'data.json': JSON.stringify([
      { img_path: 'images/a.png', prompt: '<image>\none two three four five', chosen: 'a b c d e f g', rejected: 'x' },
      { img_path: 'images/b.png', prompt: 'q', chosen: 'yes', rejected: 'no' },
      { img_path: 'images/c.png', prompt: 'q2', chosen: 'red', rejected: 'blue' },
      { img_path: 'images/a.png', prompt: 'q3', chosen: 'square', rejected: 'circle' },
    ]),
  });
  records = (await importDataset(dir)).records;
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const equal = (a: Float32Array, b: Float32Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

describe('createPreferenceSource', () => {
  it("gives the trainer's PreferenceSource: ids with the end token, [H, W, 3] images in [0, 1]", async () => {
    const source = await createPreferenceSource(records, { tokenizer, endTokenId: EOS, preprocess: { size: 8 } });
    expect(() => checkPreferenceSource(source)).not.toThrow();
    expect(source.size).toBe(4);
    expect(source.imageShape).toEqual([8, 8]);
    const e = source.example(1);
    expect(e.id).toBe('data.json#1');
    expect(e.image.length).toBe(8 * 8 * 3);
    expect(e.image.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(e.promptIds).toEqual(tokenizer.encode('q'));
    expect(e.chosenIds).toEqual([...tokenizer.encode('yes'), EOS]);
    expect(e.rejectedIds).toEqual([...tokenizer.encode('no'), EOS]);
    expect(() => source.example(4)).toThrow(/index in \[0, 4\)/);
  });

  it('truncates as the report promises: prompt keeps its end, answers their start plus the end token', async () => {
    const source = await createPreferenceSource(records, { tokenizer, endTokenId: EOS, preprocess: { size: 8 }, maxPromptTokens: 2, maxAnswerTokens: 3 });
    const e = source.example(0);
    expect(e.promptIds).toEqual(tokenizer.encode('four five'));
    expect(e.chosenIds).toEqual([...tokenizer.encode('a b'), EOS]);
    expect(e.rejectedIds).toEqual([...tokenizer.encode('x'), EOS]);
  });

  it('m\' is deterministic per generator, differs from m, and random-image takes another image', async () => {
    const source = await createPreferenceSource(records, { tokenizer, endTokenId: EOS, preprocess: { size: 8 } });
    const m = source.example(0).image;
    const a = source.negative(0, 0, Rng.derive(1, 'negative/x'));
    const b = source.negative(0, 0, Rng.derive(1, 'negative/x'));
    expect(equal(a, b)).toBe(true);
    expect(equal(a, m)).toBe(false);
    const rnd = await createPreferenceSource(records, { tokenizer, endTokenId: EOS, preprocess: { size: 8 }, strategy: { kind: 'random-image' } });
    const others = [1, 2].map((j) => rnd.example(j).image);
    for (let s = 0; s < 10; s++) {
      const neg = rnd.negative(0, s, new Rng(s));
      // Record 3 shares record 0's image, so m' is always b or c.
      expect(others.some((o) => equal(o, neg))).toBe(true);
    }
  });

  it('reads images from the disk cache when not held in memory', async () => {
    const cache = new ImageCache(path.join(dir, '..', `${path.basename(dir)}-cache`));
    const source = await createPreferenceSource(records, { tokenizer, endTokenId: EOS, preprocess: { size: 8 }, cache, inMemory: false });
    const mem = await createPreferenceSource(records, { tokenizer, endTokenId: EOS, preprocess: { size: 8 } });
    for (let i = 0; i < 4; i++) expect(equal(source.example(i).image, mem.example(i).image)).toBe(true);
    await fs.rm(cache.dir, { recursive: true, force: true });
    expect(() => source.example(0)).toThrow(/gone from the cache/);
    await expect(createPreferenceSource(records, { tokenizer, endTokenId: EOS, preprocess: { size: 8 }, inMemory: false })).rejects.toThrow(/needs a cache/);
  });

  it('skips (and names) records whose image changed since import', async () => {
    const copy = await tempDir('data-source-gone-');
    await writeFiles(copy, { 'images/a.png': await tinyPng(8, 8), 'images/b.png': await tinyPng(8, 8, 5), 'data.json': JSON.stringify([{ img_path: 'images/a.png', prompt: 'q', chosen: 'a', rejected: 'b' }, { img_path: 'images/b.png', prompt: 'q', chosen: 'a', rejected: 'b' }]) });
    const imported = (await importDataset(copy)).records;
    await fs.writeFile(path.join(copy, 'images/b.png'), 'not an image any more');
    const source = await createPreferenceSource(imported, { tokenizer, endTokenId: EOS, preprocess: { size: 8 } });
    expect(source.size).toBe(1);
    expect(source.skipped).toHaveLength(1);
    expect(source.skipped[0].message).toContain('Record 1 (data.json#1), image');
    await fs.rm(copy, { recursive: true, force: true });
  });
});

describe("with the model's WordTokenizer", () => {
  it('budget counts and source ids use the real tokenizer; the end token is its eos', async () => {
    const { WordTokenizer } = await import('../model/tokenizer');
    const texts = records.flatMap((r) => [r.prompt, r.chosen, r.rejected]);
    const tok = WordTokenizer.fromCorpus(texts);
    const r = await importDataset(dir, { budget: { tokenizer: tok, maxAnswerTokens: 5 } });
    expect(r.report.issues.filter((i) => i.severity === 'warning').map((i) => [i.code, i.field, i.record])).toEqual([['answer-over-budget', 'chosen', 0]]);
    const source = await createPreferenceSource(r.records, { tokenizer: tok, endTokenId: tok.specials.eos, preprocess: { size: 8 }, maxAnswerTokens: 5 });
    expect(() => checkPreferenceSource(source)).not.toThrow();
    expect(tok.decode(source.example(0).chosenIds)).toBe('a b c d');
    expect(source.example(0).chosenIds.at(-1)).toBe(tok.specials.eos);
    expect(tok.decode(source.example(2).promptIds)).toBe('q2');
  });
});

describe('previewNegatives', () => {
  it('returns the original and K negatives as small PNGs, stable per seed', async () => {
    const p = await previewNegatives(records[0].image, { kind: 'crop', minArea: 0.2, maxArea: 0.5 }, 3, 7, 32);
    expect(p.label).toBe('crop 20-50%');
    expect(p.negatives).toHaveLength(3);
    // a.png is 12x10: the longest side becomes 32, the aspect ratio is kept.
    for (const png of [p.original, ...p.negatives]) expect(await sharp(png).metadata()).toMatchObject({ format: 'png', width: 32, height: 27 });
    const again = await previewNegatives(records[0].image, { kind: 'crop', minArea: 0.2, maxArea: 0.5 }, 3, 7, 32);
    expect(again.negatives.map((b) => b.toString('base64'))).toEqual(p.negatives.map((b) => b.toString('base64')));
    expect(p.negatives[0].equals(p.original)).toBe(false);
    const aug = await previewNegatives(records[0].image, { kind: 'augment' }, 2, 1, 16);
    expect(aug.negatives).toHaveLength(2);
    const rnd = await previewNegatives(records[0].image, { kind: 'random-image' }, 2, 1, 16, { others: [records[1].image] });
    expect(rnd.negatives).toHaveLength(2);
    await expect(previewNegatives(records[0].image, { kind: 'random-image' }, 1, 1, 16)).rejects.toThrow(/needs other images/);
    await expect(previewNegatives(records[0].image, { kind: 'crop', minArea: 0.5, maxArea: 0.1 }, 1, 1, 16)).rejects.toThrow(/minArea <= maxArea/);
  });
});
