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
  /** The detected format, when the case is about detection. */
  format?: string;
  /** What the messages say, issue by issue (in words: line and column, byte offset, ...). */
  says?: Array<string | RegExp>;
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

const line = (o: unknown): string => `${JSON.stringify(o)}\n`;
/** JSONL bytes: the good record, then `bad` (raw bytes, e.g. not UTF-8). */
function jsonlWith(bad: Buffer): (dir: string) => Promise<void> {
  return async (dir) => writeFiles(dir, { 'images/a.png': png, 'd.jsonl': Buffer.concat([Buffer.from(line(good)), bad, Buffer.from('\n')]) });
}
const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
/** Byte offset of `needle` (latin1) in the JSONL written by jsonlWith. */
const offsetIn = (bad: Buffer, needle: number[]): number => Buffer.byteLength(line(good)) + bad.indexOf(Buffer.from(needle));

const BAD_CHOSEN = Buffer.concat([latin1('{"img_path": "images/a.png", "prompt": "Q2?", "chosen": "caf'), Buffer.from([0xe9]), latin1('", "rejected": "no"}')]);
const BAD_REJECTED = Buffer.concat([latin1('{"img_path": "images/a.png", "prompt": "Q3?", "chosen": "yes", "rejected": "cut '), Buffer.from([0xe2, 0x82]), latin1('"}')]);
const BAD_TRL = Buffer.concat([latin1('{"images": ["images/a.png"], "prompt": [{"role": "user", "content": "Q?"}], "chosen": [{"role": "assistant", "content": "ok '), Buffer.from([0xc0, 0xaf]), latin1('"}], "rejected": [{"role": "assistant", "content": "no"}]}')]);

const PARQUET_COLUMNS = [{ name: 'img_path', type: 'string' as const }, { name: 'prompt', type: 'string' as const }, { name: 'chosen', type: 'string' as const }, { name: 'rejected', type: 'string' as const }];
/** A valid 20-row parquet whose bytes `at..at+8` are then overwritten with `fill` (or cut at `cut`). */
function damagedParquet(at: number, fill: number, cut?: number): (dir: string) => Promise<void> {
  return async (dir) => {
    const rows = Array.from({ length: 20 }, (_, k) => ({ img_path: 'images/a.png', prompt: `question ${k}?`, chosen: `yes ${k}`, rejected: `no ${k}` }));
    const bytes = Buffer.from(writeParquet(PARQUET_COLUMNS, rows));
    if (cut !== undefined) return writeFiles(dir, { 'images/a.png': png, 'p.parquet': bytes.subarray(0, cut) });
    bytes.fill(fill, at, at + 8);
    await writeFiles(dir, { 'images/a.png': png, 'p.parquet': bytes });
  };
}

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
  // ---- issue 18: bad input that got through, or got a poor message ----
  // An answer far over the token budget with no tokenizer: flagged by characters (4 a token).
  { name: 'answer of 6000 characters, no tokenizer (kept, warned by characters)', build: json(b({ chosen: 'a'.repeat(6000) })), issues: [['warning', 'answer-over-budget', 'chosen', 1]], valid: 2, says: ['data.json:8, record 1, field "chosen": is 6000 characters, over the character budget of 4096 (about 1024 tokens at ~4 characters a token; no tokenizer was given to count exactly): training keeps only the answer\'s first tokens and the end-of-answer token, so roughly the first 4096 characters are learned and the rest is cut'] },
  { name: 'prompt of 5000 characters, no tokenizer (kept, warned by characters)', build: json(b({ prompt: `${'why '.repeat(1250)}?` })), issues: [['warning', 'prompt-over-budget', 'prompt', 1]], valid: 2, says: [/is 5001 characters, over the character budget of 4096 .*training keeps only the prompt's last tokens \(the start is cut\)$/] },
  { name: 'rejected over a configured character budget', build: json(b({ rejected: 'x'.repeat(41) })), options: { charBudget: { maxAnswerChars: 40 } }, issues: [['warning', 'answer-over-budget', 'rejected', 1]], valid: 2, says: [/is 41 characters, over the character budget of 40 \(about 10 tokens/] },
  { name: 'a tokenizer, when given, counts instead of characters', build: json(b({ chosen: 'a'.repeat(6000) })), options: { budget: { tokenizer: words, maxAnswerTokens: 16 } }, issues: [], valid: 2 },
  // Text that is not UTF-8: the record, the field and the byte offset.
  { name: 'JSONL answer in Latin-1 (not UTF-8)', build: jsonlWith(BAD_CHOSEN), issues: [['error', 'invalid-utf8', 'chosen', 1]], valid: 1, says: [`d.jsonl:2, record 1, field "chosen": is not valid UTF-8: byte 0xe9 at byte offset ${offsetIn(BAD_CHOSEN, [0xe9])} of d.jsonl (byte 4 of the field's JSON text); re-save the file as UTF-8`] },
  { name: 'JSONL answer cut inside a UTF-8 character', build: jsonlWith(BAD_REJECTED), issues: [['error', 'invalid-utf8', 'rejected', 1]], valid: 1, says: [`d.jsonl:2, record 1, field "rejected": is not valid UTF-8: byte 0xe2 at byte offset ${offsetIn(BAD_REJECTED, [0xe2])} of d.jsonl (byte 5 of the field's JSON text); re-save the file as UTF-8`] },
  { name: 'TRL message content with an overlong UTF-8 sequence', build: jsonlWith(BAD_TRL), issues: [['error', 'invalid-utf8', 'chosen', 1]], valid: 1, says: [new RegExp(`field "chosen": is not valid UTF-8: byte 0xc0 at byte offset ${offsetIn(BAD_TRL, [0xc0])} of d.jsonl`)] },
  {
    name: 'JSON list with a Latin-1 prompt',
    build: async (d) => writeFiles(d, { 'images/a.png': png, 'data.json': Buffer.concat([latin1(`[${JSON.stringify(good)},\n{"img_path": "images/a.png", "prompt": "na`), Buffer.from([0xef]), latin1('ve?", "chosen": "a", "rejected": "b"}]')]) }),
    issues: [['error', 'invalid-utf8', 'prompt', 1]],
    valid: 1,
    says: [/^data.json:2, record 1, field "prompt": is not valid UTF-8: byte 0xef at byte offset 148 of data.json \(byte 3 of the field's JSON text\)/],
  },
  // JSON parse errors name the line and the column.
  { name: 'JSON list with a trailing comma', build: async (d) => writeFiles(d, { 'data.json': `[\n${JSON.stringify(good)},\n]` }), issues: [['error', 'invalid-json', undefined, undefined]], valid: 0, says: ['data.json:3: is not valid JSON at line 3, column 1: expected a value after ","; a trailing comma is not JSON'] },
  { name: 'JSON list whose record 1 holds NaN (Python json.dump)', build: async (d) => writeFiles(d, { 'images/a.png': png, 'data.json': `[\n${JSON.stringify(good)},\n{"img_path": "images/a.png", "prompt": "q",\n "score": NaN, "chosen": "a", "rejected": "b"}\n]` }), issues: [['error', 'invalid-json-line', undefined, 1]], valid: 1, says: ['data.json:3, record 1: is not valid JSON at line 4, column 11: NaN is not JSON (Python writes it for a float that is not finite)'] },
  { name: 'JSONL line with single quotes', build: async (d) => writeFiles(d, { 'images/a.png': png, 'd.jsonl': `${line(good)}{'img_path': 'images/a.png'}\n` }), issues: [['error', 'invalid-json-line', undefined, 1]], valid: 1, says: ['d.jsonl:2, record 1: is not valid JSON at line 2, column 2: expected a double-quoted field name, found "\'"'] },
  { name: 'JSON object (not a list) that does not parse', build: async (d) => writeFiles(d, { 'data.json': '{\n  "train": [1, 2,]\n}' }), issues: [['error', 'invalid-json', undefined, undefined]], valid: 0, says: ['data.json:2: is not valid JSON at line 2, column 18: expected a value, found "]"'] },
  { name: 'JSON cut off mid-file, with the line and column', build: async (d) => writeFiles(d, { 'data.json': '[\n {"img_path": "a.png",\n  "prompt": "x"' }), issues: [['error', 'invalid-json', undefined, undefined]], valid: 0, says: ['data.json:3: is not valid JSON at line 3, column 16: ends inside the record that starts at line 2, column 2 (cut off?)'] },
  { name: 'JSON broken after good records: nothing is kept, the break is named', build: async (d) => writeFiles(d, { 'images/a.png': png, 'data.json': `[\n${JSON.stringify(good)},\n${JSON.stringify(b({}))}\n} ]` }), issues: [['error', 'invalid-json', undefined, undefined]], valid: 0, says: ['data.json:4: is not valid JSON at line 4, column 1: expected "," or "]" after a record, found "}"'] },
  // Format detection is not decided by the first record alone.
  { name: 'first record missing chosen: the file is still mDPO/Silkie', build: async (d) => writeFiles(d, { 'images/a.png': png, 'data.json': JSON.stringify([{ ...good, chosen: undefined }, b({})]) }), issues: [['error', 'missing-field', 'chosen', 0]], valid: 1, format: 'silkie-json' },
  { name: 'first JSONL record missing prompt and chosen', build: async (d) => writeFiles(d, { 'images/a.png': png, 'd.jsonl': `${line({ img_path: 'images/a.png', rejected: 'no' })}${line(good)}` }), issues: [['error', 'missing-field', 'prompt', 0], ['error', 'missing-field', 'chosen', 0]], valid: 1, format: 'silkie-jsonl' },
  { name: 'first TRL record missing rejected: the file is still TRL', build: async (d) => writeFiles(d, { 'images/a.png': png, 'p.json': JSON.stringify([trl({ rejected: undefined }), trl({ prompt: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'Other?' }] }] })]) }), issues: [['error', 'missing-field', 'rejected', 0]], valid: 1, format: 'trl-json' },
  { name: 'first sharegpt record missing chosen', build: async (d) => writeFiles(d, { 'images/a.png': png, 's.json': JSON.stringify([1, 2].map((k) => ({ conversations: [{ from: 'human', value: `<image>Q${k}?` }], ...(k === 1 ? {} : { chosen: { from: 'gpt', value: 'yes' } }), rejected: { from: 'gpt', value: 'no' }, images: ['images/a.png'] }))) }), issues: [['error', 'missing-field', 'chosen', 0]], valid: 1, format: 'llamafactory-sharegpt' },
  { name: 'three records that are not objects before a good one', build: async (d) => writeFiles(d, { 'images/a.png': png, 'd.jsonl': `"a"\n42\nnull\n${line(good)}` }), issues: [['error', 'not-an-object', undefined, 0], ['error', 'not-an-object', undefined, 1], ['error', 'not-an-object', undefined, 2]], valid: 1, format: 'silkie-jsonl' },
  // Zero valid records: the counts agree with the report (the app refuses to keep it: test/datasets-import.test.ts).
  { name: 'every record bad', build: async (d) => writeFiles(d, { 'd.jsonl': `${line({ ...good, img_path: 'gone.png' })}{oops\n` }), issues: [['error', 'image-not-found', 'img_path', 0], ['error', 'invalid-json-line', undefined, 1]], valid: 0 },
  // A parquet file with a corrupt middle gets words (and never takes the process down).
  // (This one used to abort Node itself: hyparquet grew an array by the corrupt run length.)
  { name: 'parquet with page data overwritten in the middle', build: damagedParquet(29, 0xee), issues: [['error', 'invalid-parquet', undefined, undefined]], valid: 0, says: [/^p.parquet: is damaged \(row group 0, column "img_path": the page at byte 4 \(definition levels\): a run of \d+ values, but only 19 of the page's 20 are left\): the file was probably cut off or overwritten in places; download or export it again$/] },
  { name: 'parquet with a level length overwritten', build: damagedParquet(23, 0xee), issues: [['error', 'invalid-parquet', undefined, undefined]], valid: 0, says: ['p.parquet: is damaged (row group 0, column "img_path": the page at byte 4 claims 4008636142 bytes of levels, more than the page holds): the file was probably cut off or overwritten in places; download or export it again'] },
  { name: 'parquet with a page header overwritten (was "thrift unhandled type: 14")', build: damagedParquet(4, 0x1e), issues: [['error', 'invalid-parquet', undefined, undefined]], valid: 0, says: ['p.parquet: is damaged (row group 0, column "img_path": the page header at byte 4 cannot be decoded (byte 4 holds a Thrift field of unknown type 14)): the file was probably cut off or overwritten in places; download or export it again'] },
  { name: 'parquet cut off halfway', build: damagedParquet(0, 0, 600), issues: [['error', 'invalid-parquet', undefined, undefined]], valid: 0, says: [/^p.parquet: is not a parquet file, or is cut off: a parquet file starts and ends with the 4 bytes "PAR1" \(parquet reader: /] },
  // A path with a NUL byte (the dataset root: see the test below).
  { name: 'image path with a NUL byte', build: json(b({ img_path: 'images/a.png\u0000.jpg' })), issues: [['error', 'image-not-found', 'img_path', 1]], valid: 1, says: ['data.json:8, record 1, field "img_path": "images/a.png\\u0000.jpg" contains a NUL byte (\\0, at character 13); no file name can hold one'] },
  // Notes said once per dataset, with the count and the first record.
  {
    name: '<image> marker on every prompt: one note',
    build: async (d) => writeFiles(d, { 'images/a.png': png, 'd.jsonl': [0, 1, 2, 3].map((k) => line({ ...good, prompt: `<image>\nQuestion ${k}?` })).join('') }),
    issues: [['note', 'image-marker-stripped', 'prompt', undefined]],
    valid: 4,
    notes: true,
    says: ['d.jsonl, field "prompt", 4 records (the first: record 0 at d.jsonl:1): image markers (<image> and the like) were removed from the prompt text; the model places the image itself'],
  },
  {
    name: 'LLaVA template and marker on every prompt: one note each',
    build: async (d) => writeFiles(d, { 'images/a.png': png, 'd.jsonl': [0, 1, 2].map((k) => line({ ...good, prompt: `USER: <image>\nQuestion ${k}? ASSISTANT:` })).join('') }),
    issues: [['note', 'chat-template-stripped', 'prompt', undefined], ['note', 'image-marker-stripped', 'prompt', undefined]],
    valid: 3,
    notes: true,
    says: [/3 records \(the first: record 0 at d.jsonl:1\): a chat template \(vicuna\) was removed/, /3 records/],
  },
  {
    name: 'markers inside answers: one note per field',
    build: async (d) => writeFiles(d, { 'images/a.png': png, 'd.jsonl': [0, 1].map((k) => line({ ...good, prompt: `Q${k}?`, chosen: `See <image> ${k}.` })).join('') }),
    issues: [['note', 'image-marker-stripped', 'chosen', undefined]],
    valid: 2,
    notes: true,
    says: ['d.jsonl, field "chosen", 2 records (the first: record 0 at d.jsonl:1): holds an image marker; it is kept as text'],
  },
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
      if (c.format) expect(r.format).toBe(c.format);
      const said = r.report.issues.filter((i) => c.notes || i.severity !== 'note').map((i) => i.message);
      for (const [k, words] of (c.says ?? []).entries()) {
        if (typeof words === 'string') expect(said[k]).toBe(words);
        else expect(said[k]).toMatch(words);
      }
      // The summary's counts agree with the report (a dataset row is made from them).
      const s = r.report.summary;
      expect([s.errors, s.warnings, s.notes]).toEqual(['error', 'warning', 'note'].map((sev) => r.report.issues.filter((i) => i.severity === sev).length));
      expect(s.excluded).toBe(r.report.excluded.length);
      expect(s.records).toBe(s.valid + s.excluded);
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

  it('a root path with a NUL byte is refused in words, not a Node error code', async () => {
    const bad = `${root}/data\u0000set`;
    await expect(importDataset(bad)).rejects.toThrow(DatasetError);
    await expect(importDataset(bad)).rejects.toThrow(`Dataset path "${root}/data\\u0000set" contains a NUL byte (\\0, at character ${root.length + 6}); no file or folder name can hold one.`);
  });

  it('throws only for an unreadable root, naming it', async () => {
    const gone = path.join(os.tmpdir(), 'mdpo-no-such-dataset-xyz');
    await expect(importDataset(gone)).rejects.toThrow(DatasetError);
    await expect(importDataset(gone)).rejects.toThrow(`Dataset ${gone} does not exist`);
  });
});
