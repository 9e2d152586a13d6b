/**
 * One small valid dataset per format, written by the test into a temp folder; each imports
 * with zero errors and the same normalised records. Also: the built-in world's dataset.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importDataset } from '../src/core/data/import';
import { writeParquet } from '../src/core/data/testing/parquet-writer';
import { snapshot, tempDir, tinyJpeg, tinyPng, writeFiles } from '../src/core/data/testing/fixtures';
import type { ImportResult } from '../src/core/data/types';
import { writePreferenceDataset } from '../src/core/world/dataset';
import { DESCRIBE_PROMPT } from '../src/core/world/grammar';
import { sceneCaption } from '../src/core/world/sft';
import { pairScenes } from '../src/core/world/splits';

let root: string;
let png0: Buffer;
let png1: Buffer;
beforeAll(async () => {
  root = await tempDir('data-formats-');
  png0 = await tinyPng(8, 6, 0);
  png1 = await tinyPng(8, 6, 1);
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const EXPECTED = [
  { prompt: 'What is in picture 0?', chosen: 'A red square.', rejected: 'A blue circle.' },
  { prompt: 'What is in picture 1?', chosen: 'Two dogs.', rejected: 'One cat.' },
];

async function folder(name: string, files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = path.join(root, name);
  await writeFiles(dir, { 'images/a.png': png0, 'images/b.png': png1, ...files });
  return dir;
}

function expectClean(r: ImportResult, format: ImportResult['format']): void {
  const errors = r.report.issues.filter((i) => i.severity !== 'note');
  expect(errors).toEqual([]);
  expect(r.format).toBe(format);
  expect(r.records.map(({ prompt, chosen, rejected }) => ({ prompt, chosen, rejected }))).toEqual(EXPECTED);
  expect(r.report.summary.valid).toBe(2);
  expect(r.report.excluded).toEqual([]);
  expect(JSON.parse(JSON.stringify(r.report))).toEqual(r.report);
}

const silkieRows = [
  { img_path: 'images/a.png', prompt: 'USER: <image>\nWhat is in picture 0? ASSISTANT:', chosen: 'A red square.', rejected: 'A blue circle.' },
  { img_path: 'images/b.png', prompt: '<image>\nWhat is in picture 1?', chosen: 'Two dogs.', rejected: 'One cat.' },
];

const trlRows = [
  {
    images: ['images/a.png'],
    prompt: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is in picture 0?' }] }],
    chosen: [{ role: 'assistant', content: [{ type: 'text', text: 'A red square.' }] }],
    rejected: [{ role: 'assistant', content: 'A blue circle.' }],
  },
  {
    images: ['images/b.png'],
    prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'What is in picture 1?' }] }],
    chosen: [{ role: 'assistant', content: 'Two dogs.' }],
    rejected: [{ role: 'assistant', content: 'One cat.' }],
  },
];

describe('valid fixtures, one per format', () => {
  it('mDPO/Silkie JSON (folder and file), chat template and <image> stripped with notes', async () => {
    const dir = await folder('silkie-json', { 'data.json': JSON.stringify(silkieRows, null, 2) });
    const before = await snapshot(dir);
    const r = await importDataset(dir);
    expectClean(r, 'silkie-json');
    expect(r.records[0].source).toEqual({ file: 'data.json', index: 0, line: 2 });
    expect(r.records[0].image).toEqual({ kind: 'file', path: path.join(dir, 'images/a.png'), relPath: 'images/a.png' });
    expect(r.records[0].imageInfo).toMatchObject({ format: 'png', width: 8, height: 6, channels: 3 });
    // Said once per dataset, with the count and the first record (issue 18), not once per record.
    expect(r.report.issues.map((i) => [i.severity, i.code, i.field, i.record])).toEqual([['note', 'chat-template-stripped', 'prompt', undefined], ['note', 'image-marker-stripped', 'prompt', undefined]]);
    expect(r.report.issues[0].message).toBe('data.json, field "prompt", 1 record (the first: record 0 at data.json:2): a chat template (vicuna) was removed from the prompt text; the model\'s own template is applied in training');
    expect(r.report.issues[1].message).toContain('2 records (the first: record 0 at data.json:2)');
    expect(r.report.summary.images.width).toMatchObject({ min: 8, max: 8, count: 2 });
    expect(await snapshot(dir)).toEqual(before);
    expectClean(await importDataset(path.join(dir, 'data.json')), 'silkie-json');
  });

  it('mDPO/Silkie JSONL', async () => {
    const dir = await folder('silkie-jsonl', { 'train.jsonl': silkieRows.map((x) => JSON.stringify(x)).join('\n') + '\n\n' });
    const r = await importDataset(dir);
    expectClean(r, 'silkie-jsonl');
    expect(r.records[1].source).toEqual({ file: 'train.jsonl', index: 1, line: 2 });
  });

  it('TRL conversational JSON and JSONL (image content parts mark the image)', async () => {
    const a = await importDataset(await folder('trl-json', { 'prefs.json': JSON.stringify(trlRows) }));
    expectClean(a, 'trl-json');
    const b = await importDataset(await folder('trl-jsonl', { 'prefs.jsonl': trlRows.map((x) => JSON.stringify(x)).join('\n') }));
    expectClean(b, 'trl-jsonl');
  });

  it("TRL implicit prompt (chosen/rejected are whole conversations sharing the prompt turns)", async () => {
    const rows = trlRows.map(({ prompt, chosen, rejected, images }) => ({ images, chosen: [...prompt, ...chosen], rejected: [...prompt, ...rejected] }));
    expectClean(await importDataset(await folder('trl-implicit', { 'prefs.jsonl': rows.map((x) => JSON.stringify(x)).join('\n') })), 'trl-jsonl');
  });

  it('LLaMA-Factory sharegpt ranking via dataset_info.json (custom columns and tags)', async () => {
    const rows = [
      { conv: [{ from: 'human', value: '<image>What is in picture 0?' }], pos: { from: 'gpt', value: 'A red square.' }, neg: { from: 'gpt', value: 'A blue circle.' }, pics: ['images/a.png'] },
      { conv: [{ from: 'human', value: '<image>\nWhat is in picture 1?' }], pos: { from: 'gpt', value: 'Two dogs.' }, neg: { from: 'gpt', value: 'One cat.' }, pics: ['images/b.png'] },
    ];
    const info = {
      other_sft: { file_name: 'sft.json', formatting: 'sharegpt' },
      my_rlhf: { file_name: 'rlhf.json', formatting: 'sharegpt', ranking: true, columns: { messages: 'conv', chosen: 'pos', rejected: 'neg', images: 'pics' } },
    };
    const dir = await folder('llamafactory', { 'dataset_info.json': JSON.stringify(info), 'rlhf.json': JSON.stringify(rows), 'sft.json': '[]' });
    expectClean(await importDataset(dir), 'llamafactory-sharegpt');
    expectClean(await importDataset(path.join(dir, 'dataset_info.json'), { dataset: 'my_rlhf' }), 'llamafactory-sharegpt');
    // The default column names, OpenAI-style tags.
    const rows2 = rows.map((x) => ({
      messages: [{ role: 'user', content: x.conv[0].value }],
      chosen: { role: 'assistant', content: x.pos.value },
      rejected: { role: 'assistant', content: x.neg.value },
      images: x.pics,
    }));
    const info2 = { d: { file_name: 'd.jsonl', formatting: 'sharegpt', ranking: true, columns: { messages: 'messages' }, tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant' } } };
    const dir2 = await folder('llamafactory-openai', { 'dataset_info.json': JSON.stringify(info2), 'd.jsonl': rows2.map((x) => JSON.stringify(x)).join('\n') });
    expectClean(await importDataset(dir2), 'llamafactory-sharegpt');
  });

  it('Parquet with embedded image bytes (Hugging Face layout data/*.parquet), read back by ref', async () => {
    const jpg = await tinyJpeg(8, 6, 1);
    const bytes = writeParquet(
      [{ name: 'id', type: 'int64' }, { name: 'image', struct: [{ name: 'bytes', type: 'bytes' }, { name: 'path', type: 'string' }] }, { name: 'prompt', type: 'string' }, { name: 'chosen', type: 'string' }, { name: 'rejected', type: 'string' }],
      [
        { id: 10n, image: { bytes: png0, path: 'a.png' }, ...silkieRows[0], img_path: undefined },
        { id: 11n, image: { bytes: jpg, path: null }, ...silkieRows[1], img_path: undefined },
      ],
    );
    const dir = path.join(root, 'parquet-bytes');
    await writeFiles(dir, { 'data/train-00000-of-00001.parquet': bytes, 'data/test-00000-of-00001.parquet': bytes });
    const r = await importDataset(dir);
    expectClean(r, 'parquet');
    expect(r.report.files).toEqual(['data/train-00000-of-00001.parquet']);
    expect(r.report.issues.map((i) => [i.severity, i.code, i.file])).toEqual([['note', 'other-splits-skipped', 'data/test-00000-of-00001.parquet'], ['note', 'chat-template-stripped', 'data/train-00000-of-00001.parquet'], ['note', 'image-marker-stripped', 'data/train-00000-of-00001.parquet']]);
    expect(r.records.map((x) => x.id)).toEqual(['10', '11']);
    expect(r.records[1].image).toMatchObject({ kind: 'embedded', row: 1, column: 'image', byteLength: jpg.length });
    expect(r.report.summary.images.formats).toEqual({ png: 1, jpeg: 1 });
    const { readImageBytes } = await import('../src/core/data/preprocess');
    expect(Buffer.from(await readImageBytes(r.records[1].image)).equals(jpg)).toBe(true);
  });

  it('Parquet with image paths (a plain string column, and {bytes: null, path})', async () => {
    const bytes = writeParquet(
      [{ name: 'img_path', type: 'string' }, { name: 'prompt', type: 'string' }, { name: 'chosen', type: 'string' }, { name: 'rejected', type: 'string' }],
      silkieRows,
    );
    expectClean(await importDataset(await folder('parquet-paths', { 'pairs.parquet': bytes })), 'parquet');
    const bytes2 = writeParquet(
      [{ name: 'image', struct: [{ name: 'bytes', type: 'bytes' }, { name: 'path', type: 'string' }] }, { name: 'prompt', type: 'string' }, { name: 'chosen', type: 'string' }, { name: 'rejected', type: 'string' }],
      silkieRows.map(({ img_path, ...rest }) => ({ image: { bytes: null, path: img_path }, ...rest })),
    );
    expectClean(await importDataset(await folder('parquet-struct-paths', { 'pairs.parquet': bytes2 })), 'parquet');
  });
});

describe('parquet in several row groups', () => {
  it('reads every row group in order (decoded one at a time), with each row\'s index', async () => {
    const rows = Array.from({ length: 7 }, (_, k) => ({ img_path: k % 2 ? 'images/b.png' : 'images/a.png', prompt: `Question ${k}?`, chosen: `yes ${k}`, rejected: `no ${k}` }));
    const cols = [{ name: 'img_path', type: 'string' as const }, { name: 'prompt', type: 'string' as const }, { name: 'chosen', type: 'string' as const }, { name: 'rejected', type: 'string' as const }];
    const dir = await folder('parquet-groups', { 'p.parquet': writeParquet(cols, rows, 3) });
    const r = await importDataset(dir);
    expect(r.report.issues).toEqual([]);
    expect(r.format).toBe('parquet');
    expect(r.records.map((x) => [x.index, x.source.index, x.prompt, x.chosen])).toEqual(rows.map((x, k) => [k, k, x.prompt, x.chosen]));
  });
});

describe('TRL conversational parquet (the layout of HF datasets such as rlaif-v_formatted)', () => {
  it('reads message lists with content parts and an images list of {bytes, path}', async () => {
    const part = { name: 'e', struct: [{ name: 'text', type: 'string' as const }, { name: 'type', type: 'string' as const }] };
    const message = { name: 'e', struct: [{ name: 'content', list: part }, { name: 'role', type: 'string' as const }] };
    const bytes = writeParquet(
      [
        { name: 'images', list: { name: 'e', struct: [{ name: 'bytes', type: 'bytes' }, { name: 'path', type: 'string' }] } },
        { name: 'prompt', list: message },
        { name: 'chosen', list: message },
        { name: 'rejected', list: message },
      ],
      EXPECTED.map((e, k) => ({
        images: [{ bytes: k === 0 ? png0 : png1, path: null }],
        prompt: [{ role: 'user', content: [{ type: 'image', text: null }, { type: 'text', text: e.prompt }] }],
        chosen: [{ role: 'assistant', content: [{ type: 'text', text: e.chosen }] }],
        rejected: [{ role: 'assistant', content: [{ type: 'text', text: e.rejected }] }],
      })),
    );
    const dir = path.join(root, 'trl-parquet');
    await writeFiles(dir, { 'data/train-00000-of-00001.parquet': bytes });
    const r = await importDataset(dir);
    expectClean(r, 'parquet');
    expect(r.records[1].image).toMatchObject({ kind: 'embedded', column: 'images', element: 0, row: 1 });
    const { readImageBytes } = await import('../src/core/data/preprocess');
    expect(Buffer.from(await readImageBytes(r.records[1].image)).equals(png1)).toBe(true);
  });
});

describe('round trip with the built-in world', () => {
  it("the world's generated preference dataset imports with zero errors and zero warnings", async () => {
    const dir = path.join(root, 'world');
    const scenes = pairScenes(11, 6);
    const pairs = scenes.flatMap((s, k) => [
      { scene: s, prompt: DESCRIBE_PROMPT, chosen: sceneCaption(s), rejected: `${sceneCaption(s)} and a pink star ${k}.`, why: 'test' },
      { scene: s, prompt: 'Is there a red ring in the image?', chosen: 'no', rejected: 'yes', why: 'test' },
    ]);
    const written = await writePreferenceDataset(dir, pairs);
    const progress: number[] = [];
    const r = await importDataset(dir, { budget: { tokenizer: { encode: (t) => t.split(/\s+/).map(() => 1) }, maxAnswerTokens: 64 }, onProgress: (done, total) => progress.push(done / total) });
    // Progress is in bytes of the data files: after each batch, and 1 at the end.
    expect(progress.at(-1)).toBe(1);
    expect(progress.every((p, k) => p > 0 && p <= 1 && (k === 0 || p >= progress[k - 1]))).toBe(true);
    expect(r.report.issues.filter((i) => i.severity !== 'note')).toEqual([]);
    expect(r.format).toBe('silkie-json');
    expect(r.report.files).toEqual(['data.json']);
    expect(r.records).toHaveLength(written.length);
    expect(r.records.map((x) => x.prompt)).toEqual(written.map((x) => x.prompt));
    expect(r.report.summary.lengths.chosenTokens?.count).toBe(written.length);
  });
});

describe('committed fixtures (test/fixtures/datasets)', () => {
  const fixtures = path.join(__dirname, 'fixtures', 'datasets');

  it('silkie-mini and parquet-mini (written by testing/parquet-writer.ts) import cleanly, with the same records', async () => {
    const a = await importDataset(path.join(fixtures, 'silkie-mini'));
    const b = await importDataset(path.join(fixtures, 'parquet-mini'));
    for (const r of [a, b]) expect(r.report.issues.filter((i) => i.severity !== 'note')).toEqual([]);
    expect(a.format).toBe('silkie-json');
    expect(b.format).toBe('parquet');
    const strip = (r: ImportResult) => r.records.map(({ prompt, chosen, rejected, imageInfo }) => ({ prompt, chosen, rejected, sha: imageInfo?.sha256 }));
    expect(strip(b)).toEqual(strip(a));
    expect(a.records[0].prompt).toBe('What is in the picture?');
  });

  it('broken-mini reports every problem with its line, keeps the good record', async () => {
    const r = await importDataset(path.join(fixtures, 'broken-mini'));
    const errors = r.report.issues.filter((i) => i.severity === 'error').map((i) => [i.code, i.field, i.record, i.line]);
    expect(errors).toEqual([
      ['invalid-json-line', undefined, 1, 2],
      ['image-empty', 'img_path', 2, 3],
      ['image-path-escape', 'img_path', 3, 4],
      ['chosen-equals-rejected', 'rejected', 4, 5],
    ]);
    expect(r.records.map((x) => x.index)).toEqual([0]);
    expect(r.report.issues.find((i) => i.code === 'image-empty')?.message).toBe(
      'data.jsonl:3, record 2, field "img_path": "images/empty.png" is a zero-byte file',
    );
  });
});

/**
 * Issue 18, item 3: public preference sets have 80k-100k+ pairs and users merge several.
 * 150,000 records used to crash with "Maximum call stack size exceeded" (an array spread into
 * push). Small records, one shared image, one bad record in the middle: it must be named with
 * its line, every other record kept. Memory and time at 1M records: `npm run bench:import`.
 */
describe('at scale (150,000 records)', () => {
  const N = 150_000;
  const BAD = 75_000;
  const row = (k: number): string => `{"id":"r${k}","img_path":"images/a.png","prompt":"Q${k}?","chosen":"yes ${k}","rejected":"no ${k}"}`;

  it('JSONL: imports every good record and names the bad line', async () => {
    const dir = await folder('scale-jsonl', {});
    const lines: string[] = [];
    for (let k = 0; k < N; k++) lines.push(k === BAD ? '{"id": "broken", "prompt": oops}' : row(k));
    await fs.writeFile(path.join(dir, 'train.jsonl'), `${lines.join('\n')}\n`);
    const r = await importDataset(dir);
    expect(r.format).toBe('silkie-jsonl');
    expect(r.report.summary.records).toBe(N);
    expect(r.records).toHaveLength(N - 1);
    expect(r.report.excluded).toEqual([BAD]);
    expect(r.report.issues.map((i) => [i.severity, i.code, i.record, i.line])).toEqual([['error', 'invalid-json-line', BAD, BAD + 1]]);
    expect(r.report.issues[0].message).toContain(`train.jsonl:${BAD + 1}`);
    expect(r.records[BAD].id).toBe(`r${BAD + 1}`);
    expect(r.records[N - 2].source).toEqual({ file: 'train.jsonl', index: N - 1, line: N });
  }, 120_000);

  it('JSON list: imports every good record and names the bad one with its line', async () => {
    const dir = await folder('scale-json', {});
    const parts: string[] = [];
    for (let k = 0; k < N; k++) parts.push(k === BAD ? '{"id":"broken","img_path":"images/a.png","prompt":"Q?","chosen":"same","rejected":"same"}' : row(k));
    await fs.writeFile(path.join(dir, 'train.json'), `[\n${parts.join(',\n')}\n]\n`);
    const r = await importDataset(path.join(dir, 'train.json'));
    expect(r.format).toBe('silkie-json');
    expect(r.report.summary.records).toBe(N);
    expect(r.records).toHaveLength(N - 1);
    expect(r.report.excluded).toEqual([BAD]);
    expect(r.report.issues.map((i) => [i.severity, i.code, i.field, i.record, i.line])).toEqual([['error', 'chosen-equals-rejected', 'rejected', BAD, BAD + 2]]);
    expect(r.records[N - 2].source).toEqual({ file: 'train.json', index: N - 1, line: N + 1 });
  }, 120_000);
});
