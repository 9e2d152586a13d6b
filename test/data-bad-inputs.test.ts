/**
 * The bad-input corpus: broken datasets and images, each generated into a temp folder, each
 * with the exact issues (severity, code, field, record) import must report. Import of every
 * one finishes, reports, keeps the good records, and leaves the user's files untouched.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset, type ImportOptions } from '../src/core/data/import';
import { snapshot, tempDir, tinyPng, writeFiles } from '../src/core/data/testing/fixtures';
import { writeParquet } from '../src/core/data/testing/parquet-writer';
import { DatasetError, type Severity } from '../src/core/data/types';

type Expected = [Severity, string, string | undefined, number | undefined];

interface Case {
  name: string;
  /** Writes the dataset into `dir`; returns the path to import (default: dir). */
  build(dir: string): Promise<string | void>;
  options?: ImportOptions;
  /** Every error and warning (and note, when `notes`), in report order. */
  issues: Expected[];
  valid: number;
  notes?: boolean;
  /** The kept records' ids, when the case is about ids. */
  ids?: string[];
}

let root: string;
let outside: string;
let png: Buffer;
beforeAll(async () => {
  root = await tempDir('data-bad-');
  outside = await tempDir('data-outside-');
  png = await tinyPng(8, 6, 0);
  await fs.writeFile(path.join(outside, 'secret.png'), png);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

const good = { img_path: 'images/a.png', prompt: 'What is it?', chosen: 'A red square.', rejected: 'A blue circle.' };
const b = (over: Record<string, unknown>): Record<string, unknown> => ({ ...good, prompt: 'Other question?', ...over });

/** data.json = [good, ...more] with images/a.png and images/b.png. */
function json(...more: unknown[]): (dir: string) => Promise<void> {
  return async (dir) => writeFiles(dir, { 'images/a.png': png, 'images/b.png': await tinyPng(8, 6, 1), 'data.json': JSON.stringify([good, ...more], null, 1) });
}

/** One record whose image is `bytes`. */
function withImage(bytes: () => Promise<Uint8Array | string>): (dir: string) => Promise<void> {
  return async (dir) => {
    await json(b({ img_path: 'images/x.img' }))(dir);
    await writeFiles(dir, { 'images/x.img': await bytes() });
  };
}

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A PNG header claiming 50000x50000 pixels, with no pixel data: must be refused unread. */
function hugePngHeader(): Uint8Array {
  const ihdr = Buffer.alloc(17);
  ihdr.write('IHDR', 0, 'latin1');
  ihdr.writeUInt32BE(50_000, 4);
  ihdr.writeUInt32BE(50_000, 8);
  ihdr.set([8, 2, 0, 0, 0], 12);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(13);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(ihdr));
  const idat = Buffer.from([0, 0, 0, 0, 0x49, 0x44, 0x41, 0x54, 0x35, 0xaf, 0x06, 0x1e]); // empty IDAT
  const iend = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), len, ihdr, crc, idat, iend]);
}

const trl = (over: Record<string, unknown>): Record<string, unknown> => ({
  images: ['images/a.png'],
  prompt: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Q?' }] }],
  chosen: [{ role: 'assistant', content: 'yes' }],
  rejected: [{ role: 'assistant', content: 'no' }],
  ...over,
});

const words = { encode: (t: string) => t.split(/\s+/).filter(Boolean).map(() => 7) };

const CASES: Case[] = [
  // ---- dataset level ----
  { name: 'empty folder', build: async () => {}, issues: [['error', 'unknown-format', undefined, undefined]], valid: 0 },
  { name: 'JSON cut off mid-file', build: async (d) => writeFiles(d, { 'data.json': '[\n {"img_path": "a.png",\n  "prompt": "x"' }), issues: [['error', 'invalid-json', undefined, undefined]], valid: 0 },
  { name: 'JSON object instead of a list', build: async (d) => writeFiles(d, { 'data.json': '{"train": []}' }), issues: [['error', 'unknown-format', undefined, undefined]], valid: 0 },
  { name: 'records of an unknown shape', build: async (d) => writeFiles(d, { 'data.json': '[{"question": "q", "answer": "a"}]' }), issues: [['error', 'unknown-format', undefined, undefined]], valid: 0 },
  { name: 'empty list', build: async (d) => writeFiles(d, { 'data.json': '[]' }), issues: [['error', 'empty-dataset', undefined, undefined]], valid: 0 },
  { name: 'two record files in one folder', build: async (d) => writeFiles(d, { 'a.json': '[]', 'b.jsonl': '' }), issues: [['error', 'ambiguous-dataset', undefined, undefined]], valid: 0 },
  { name: 'dataset_info.json without a ranking entry', build: async (d) => writeFiles(d, { 'dataset_info.json': '{"x": {"file_name": "x.json", "formatting": "sharegpt"}}' }), issues: [['error', 'invalid-dataset-info', undefined, undefined]], valid: 0 },
  { name: 'dataset_info.json pointing outside the folder', build: async (d) => writeFiles(d, { 'dataset_info.json': '{"x": {"file_name": "../x.json", "formatting": "sharegpt", "ranking": true}}' }), issues: [['error', 'invalid-dataset-info', undefined, undefined]], valid: 0 },
  { name: 'dataset_info.json that is not JSON', build: async (d) => writeFiles(d, { 'dataset_info.json': '{oops' }), issues: [['error', 'invalid-dataset-info', undefined, undefined]], valid: 0 },
  { name: 'dataset_info.json naming a missing file', build: async (d) => writeFiles(d, { 'dataset_info.json': '{"x": {"file_name": "gone.json", "formatting": "sharegpt", "ranking": true}}' }), issues: [['error', 'invalid-dataset-info', undefined, undefined]], valid: 0 },
  { name: 'parquet file of random bytes', build: async (d) => writeFiles(d, { 'data.parquet': 'PAR1 this is not parquet PAR1' }), issues: [['error', 'invalid-parquet', undefined, undefined]], valid: 0 },
  { name: 'a .csv file picked directly', build: async (d) => { await writeFiles(d, { 'data.csv': 'a,b\n' }); return path.join(d, 'data.csv'); }, issues: [['error', 'unknown-format', undefined, undefined]], valid: 0 },
  // ---- record structure ----
  { name: 'JSONL with a broken line', build: async (d) => writeFiles(d, { 'images/a.png': png, 'd.jsonl': `${JSON.stringify(good)}\n{"img_path": oops}\n` }), issues: [['error', 'invalid-json-line', undefined, 1]], valid: 1 },
  { name: 'record that is a string', build: json('just text'), issues: [['error', 'not-an-object', undefined, 1]], valid: 1 },
  { name: 'missing chosen', build: json(b({ chosen: undefined })), issues: [['error', 'missing-field', 'chosen', 1]], valid: 1 },
  { name: 'prompt is a number', build: json(b({ prompt: 42 })), issues: [['error', 'wrong-type', 'prompt', 1]], valid: 1 },
  { name: 'blank rejected', build: json(b({ rejected: '  \n ' })), issues: [['error', 'empty-field', 'rejected', 1]], valid: 1 },
  { name: 'prompt of nothing but a template and a marker', build: json(b({ prompt: 'USER: <image>\n ASSISTANT:' })), issues: [['error', 'empty-field', 'prompt', 1]], valid: 1 },
  { name: 'chosen identical to rejected', build: json(b({ chosen: 'Same.', rejected: 'Same.' })), issues: [['error', 'chosen-equals-rejected', 'rejected', 1]], valid: 1 },
  { name: 'no image field', build: json(b({ img_path: undefined })), issues: [['error', 'no-image', 'img_path', 1]], valid: 1 },
  { name: 'two images for one pair', build: json(b({ img_path: undefined, images: ['images/a.png', 'images/b.png'] })), issues: [['error', 'too-many-images', 'images', 1]], valid: 1 },
  { name: 'two <image> markers for one image', build: json(b({ prompt: '<image> and <image>: compare' })), issues: [['error', 'image-marker-mismatch', 'prompt', 1]], valid: 1 },
  { name: 'image path of the wrong type', build: json(b({ img_path: 17 })), issues: [['error', 'wrong-type', 'img_path', 1]], valid: 1 },
  { name: 'TRL prompt ending with the assistant', build: async (d) => writeFiles(d, { 'images/a.png': png, 'p.json': JSON.stringify([trl({}), trl({ prompt: [{ role: 'user', content: 'Q?' }, { role: 'assistant', content: 'A' }] })]) }), issues: [['error', 'bad-messages', 'prompt', 1]], valid: 1 },
  { name: 'TRL content part of an unknown type', build: async (d) => writeFiles(d, { 'images/a.png': png, 'p.json': JSON.stringify([trl({}), trl({ chosen: [{ role: 'assistant', content: [{ type: 'audio' }] }] })]) }), issues: [['error', 'bad-messages', 'chosen', 1]], valid: 1 },
  {
    name: 'TRL implicit prompt whose rejected has other prompt turns',
    build: async (d) => writeFiles(d, {
      'images/a.png': png,
      'p.json': JSON.stringify([1, 2].map((k) => ({
        images: ['images/a.png'],
        chosen: [{ role: 'user', content: `Q${k}?` }, { role: 'assistant', content: 'yes' }],
        rejected: [{ role: 'user', content: k === 2 ? 'Another question?' : `Q${k}?` }, { role: 'assistant', content: 'no' }],
      }))),
    }),
    issues: [['error', 'bad-messages', 'rejected', 1]],
    valid: 1,
  },
  {
    name: 'sharegpt chosen from the human',
    build: async (d) => writeFiles(d, {
      'images/a.png': png,
      'dataset_info.json': '{"r": {"file_name": "r.json", "formatting": "sharegpt", "ranking": true}}',
      'r.json': JSON.stringify([1, 2].map((k) => ({ conversations: [{ from: 'human', value: `<image>Q${k}?` }], chosen: { from: k === 2 ? 'human' : 'gpt', value: 'yes' }, rejected: { from: 'gpt', value: 'no' }, images: ['images/a.png'] }))),
    }),
    issues: [['error', 'bad-messages', 'chosen', 1]],
    valid: 1,
  },
  { name: 'exact duplicate pair', build: json({ ...good }), issues: [['error', 'duplicate-record', undefined, 1]], valid: 1 },
  { name: 'duplicate id (kept as p1#1, warned)', build: async (d) => writeFiles(d, { 'images/a.png': png, 'data.json': JSON.stringify([{ ...good, id: 'p1' }, b({ id: 'p1' })]) }), issues: [['warning', 'duplicate-id', 'id', 1]], valid: 2, ids: ['p1', 'p1#1'] },
  { name: 'answer over the token budget (kept, warned)', build: json(b({ chosen: 'word '.repeat(40) })), options: { budget: { tokenizer: words, maxAnswerTokens: 16 } }, issues: [['warning', 'answer-over-budget', 'chosen', 1]], valid: 2 },
  { name: 'prompt over the token budget (kept, warned)', build: json(b({ prompt: 'why '.repeat(30) })), options: { budget: { tokenizer: words, maxPromptTokens: 8 } }, issues: [['warning', 'prompt-over-budget', 'prompt', 1]], valid: 2 },
  // ---- image files ----
  { name: 'image path with ..', build: json(b({ img_path: '../../etc/passwd' })), issues: [['error', 'image-path-escape', 'img_path', 1]], valid: 1 },
  { name: 'absolute image path outside the folder', build: async (d) => json(b({ img_path: path.join(outside, 'secret.png') }))(d), issues: [['error', 'image-path-escape', 'img_path', 1]], valid: 1 },
  { name: 'symlink pointing out of the folder', build: async (d) => { await json(b({ img_path: 'images/link.png' }))(d); await fs.symlink(path.join(outside, 'secret.png'), path.join(d, 'images/link.png')); }, issues: [['error', 'image-path-escape', 'img_path', 1]], valid: 1 },
  { name: 'missing image file', build: json(b({ img_path: 'images/nope.png' })), issues: [['error', 'image-not-found', 'img_path', 1]], valid: 1 },
  { name: 'image URL', build: json(b({ img_path: 'https://example.com/a.png' })), issues: [['error', 'image-not-found', 'img_path', 1]], valid: 1 },
  { name: 'image path that is a folder', build: json(b({ img_path: 'images' })), issues: [['error', 'image-not-a-file', 'img_path', 1]], valid: 1 },
  { name: 'zero-byte image', build: withImage(async () => ''), issues: [['error', 'image-empty', 'img_path', 1]], valid: 1 },
  { name: 'text file named as an image', build: withImage(async () => 'hello, I am not a picture'), issues: [['error', 'image-not-image', 'img_path', 1]], valid: 1 },
  { name: 'truncated PNG', build: withImage(async () => { const p = await tinyPng(64, 64, 3); return p.subarray(0, p.length - 40); }), issues: [['error', 'image-truncated', 'img_path', 1]], valid: 1 },
  { name: 'truncated JPEG', build: withImage(async () => { const j = await sharp(await tinyPng(64, 64, 4)).jpeg().toBuffer(); return j.subarray(0, Math.floor(j.length * 0.7)); }), issues: [['error', 'image-truncated', 'img_path', 1]], valid: 1 },
  { name: 'header claims 2.5 gigapixels', build: withImage(async () => hugePngHeader()), issues: [['error', 'image-too-large', 'img_path', 1]], valid: 1 },
  { name: 'image file over a configured byte limit', build: withImage(async () => Buffer.concat([await tinyPng(10, 10), Buffer.alloc(5000)])), options: { maxFileBytes: 4000 }, issues: [['error', 'image-too-large', 'img_path', 1]], valid: 1 },
  {
    name: 'parquet without a chosen column',
    build: async (d) => writeFiles(d, { 'images/a.png': png, 'p.parquet': writeParquet([{ name: 'img_path', type: 'string' }, { name: 'prompt', type: 'string' }, { name: 'rejected', type: 'string' }, { name: 'chosen', type: 'string' }], [{ img_path: 'images/a.png', prompt: 'q', chosen: 'a', rejected: 'b' }, { img_path: 'images/a.png', prompt: 'q2', chosen: null, rejected: 'b' }]) }),
    issues: [['error', 'missing-field', 'chosen', 1]],
    valid: 1,
  },
  { name: 'Windows backslashes in a path (tolerated)', build: json(b({ img_path: 'images\\b.png' })), issues: [], valid: 2 },
  { name: 'image over a configured pixel limit', build: withImage(async () => tinyPng(10, 10)), options: { maxPixels: 60 }, issues: [['error', 'image-too-large', 'img_path', 1]], valid: 1 },
  {
    name: 'parquet image struct with neither bytes nor path',
    build: async (d) => writeFiles(d, { 'p.parquet': writeParquet([{ name: 'image', struct: [{ name: 'bytes', type: 'bytes' }, { name: 'path', type: 'string' }] }, { name: 'prompt', type: 'string' }, { name: 'chosen', type: 'string' }, { name: 'rejected', type: 'string' }], [{ image: { bytes: png, path: null }, prompt: 'q', chosen: 'a', rejected: 'b' }, { image: { bytes: null, path: null }, prompt: 'q2', chosen: 'a', rejected: 'b' }]) }),
    issues: [['error', 'wrong-type', 'image', 1]],
    valid: 1,
  },
  {
    name: 'parquet with garbage embedded bytes',
    build: async (d) => writeFiles(d, { 'p.parquet': writeParquet([{ name: 'image', struct: [{ name: 'bytes', type: 'bytes' }, { name: 'path', type: 'string' }] }, { name: 'prompt', type: 'string' }, { name: 'chosen', type: 'string' }, { name: 'rejected', type: 'string' }], [{ image: { bytes: png, path: null }, prompt: 'q', chosen: 'a', rejected: 'b' }, { image: { bytes: new Uint8Array([1, 2, 3, 4, 5]), path: null }, prompt: 'q2', chosen: 'a', rejected: 'b' }]) }),
    issues: [['error', 'image-not-image', 'image', 1]],
    valid: 1,
  },
  // ---- converted with a note, kept ----
  { name: 'RGBA image', build: withImage(async () => sharp({ create: { width: 4, height: 4, channels: 4, background: { r: 9, g: 9, b: 9, alpha: 0.5 } } }).png().toBuffer()), issues: [['note', 'image-alpha', 'img_path', 1]], valid: 2, notes: true },
  { name: '16-bit image', build: withImage(async () => sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 9, g: 9, b: 9 } } }).toColourspace('rgb16').png().toBuffer()), issues: [['note', 'image-16bit', 'img_path', 1]], valid: 2, notes: true },
  { name: 'CMYK JPEG', build: withImage(async () => sharp({ create: { width: 4, height: 4, channels: 3, background: { r: 200, g: 9, b: 9 } } }).toColourspace('cmyk').jpeg().toBuffer()), issues: [['note', 'image-cmyk', 'img_path', 1]], valid: 2, notes: true },
  { name: 'animated GIF', build: withImage(async () => sharp([await tinyPng(4, 4, 1), await tinyPng(4, 4, 2)], { join: { animated: true } }).gif().toBuffer()), issues: [['note', 'image-animated', 'img_path', 1], ['note', 'image-alpha', 'img_path', 1]], valid: 2, notes: true },
  { name: 'grayscale image', build: withImage(async () => sharp(await tinyPng(4, 4, 1)).toColourspace('b-w').png().toBuffer()), issues: [['note', 'image-grayscale', 'img_path', 1]], valid: 2, notes: true },
];

describe('bad-input corpus', () => {
  it('holds at least 30 broken datasets and images', () => {
    expect(CASES.filter((c) => c.issues.some(([s]) => s === 'error')).length).toBeGreaterThanOrEqual(30);
  });

  for (const [k, c] of CASES.entries()) {
    it(`${k + 1}. ${c.name}`, async () => {
      const dir = path.join(root, `case-${k + 1}`);
      await fs.mkdir(dir, { recursive: true });
      const target = (await c.build(dir)) ?? dir;
      const before = await snapshot(dir);
      const r = await importDataset(target, c.options);
      const shown = r.report.issues
        .filter((i) => c.notes || i.severity !== 'note')
        .map((i) => [i.severity, i.code, i.field, i.record]);
      expect(shown).toEqual(c.issues);
      expect(r.records).toHaveLength(c.valid);
      expect(r.report.summary.valid).toBe(c.valid);
      if (c.ids) expect(r.records.map((x) => x.id)).toEqual(c.ids);
      for (const i of r.report.issues) {
        if (i.record !== undefined) {
          expect(i.message).toContain(`record ${i.record}`);
          expect(i.message).toContain(i.file);
        }
        if (i.field) expect(i.message).toContain(`"${i.field}"`);
      }
      // Errors exclude exactly their records; the rest is kept.
      const errRecords = [...new Set(r.report.issues.filter((i) => i.severity === 'error' && i.record !== undefined).map((i) => i.record))];
      expect(r.report.excluded).toEqual(errRecords);
      expect(JSON.parse(JSON.stringify(r.report))).toEqual(r.report);
      expect(await snapshot(dir)).toEqual(before);
    });
  }

  it('throws only for an unreadable root, naming it', async () => {
    const gone = path.join(os.tmpdir(), 'mdpo-no-such-dataset-xyz');
    await expect(importDataset(gone)).rejects.toThrow(DatasetError);
    await expect(importDataset(gone)).rejects.toThrow(`Dataset ${gone} does not exist`);
  });
});
