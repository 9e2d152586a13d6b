/**
 * Probe-set import: POPE's {image, text, label} JSONL, object-annotated records, plain
 * questions; and the bad-input corpus, each with the exact record-level issues (severity,
 * code, field, record) and the message naming file, line, record and field.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importProbeSet } from '../src/core/data/probe-import';
import { snapshot, tempDir, tinyPng, writeFiles } from '../src/core/data/testing/fixtures';
import { DatasetError } from '../src/core/data/types';

let root: string;
let outside: string;
beforeAll(async () => {
  root = await tempDir('probe-');
  outside = await tempDir('probe-outside-');
  await fs.writeFile(path.join(outside, 'secret.png'), await tinyPng(8, 8, 9));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
  await fs.rm(outside, { recursive: true, force: true });
});

const jsonl = (rows: unknown[]): string => rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n';

async function set(name: string, files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = path.join(root, name);
  await fs.mkdir(dir, { recursive: true });
  await writeFiles(dir, { 'a.png': await tinyPng(8, 8, 1), 'b.png': await tinyPng(8, 8, 2), ...files });
  return dir;
}

describe('importProbeSet: good sets', () => {
  it('reads POPE\'s own JSONL ({question_id, image, text, label}) without touching the folder', async () => {
    const dir = await set('pope', {
      'pope.jsonl': jsonl([
        { question_id: 1, image: 'a.png', text: 'Is there a dog in the image?', label: 'yes' },
        { question_id: 2, image: 'a.png', text: 'Is there a cat in the image?', label: 'no' },
        { question_id: 3, image: 'b.png', text: 'Is there a car in the image?', label: 'No' },
      ]),
    });
    const before = await snapshot(dir);
    const { items, report } = await importProbeSet(dir);
    expect(await snapshot(dir)).toEqual(before);
    expect(report.format).toBe('probe-jsonl');
    expect(report.files).toEqual(['pope.jsonl']);
    expect(report.summary).toMatchObject({ records: 3, valid: 3, excluded: 0, errors: 0, kinds: { yesno: 3, objects: 0, none: 0 } });
    expect(items.map((i) => [i.id, i.image.relPath, i.question, i.truth])).toEqual([
      ['1', 'a.png', 'Is there a dog in the image?', { kind: 'yesno', label: 'yes' }],
      ['2', 'a.png', 'Is there a cat in the image?', { kind: 'yesno', label: 'no' }],
      ['3', 'b.png', 'Is there a car in the image?', { kind: 'yesno', label: 'no' }],
    ]);
    expect(items[0]!.source).toEqual({ file: 'pope.jsonl', index: 0, line: 1 });
  });

  it('reads a JSON list of object-annotated and plain items', async () => {
    const dir = await set('objects', {
      'probe.json': JSON.stringify([
        { image: 'a.png', question: 'Describe the image.', objects: ['dog', 'sofa', ' '] },
        { img_path: 'b.png', prompt: 'What is here?' },
      ]),
    });
    const { items, report } = await importProbeSet(path.join(dir, 'probe.json'));
    expect(report.format).toBe('probe-json');
    expect(report.summary.kinds).toEqual({ yesno: 0, objects: 1, none: 1 });
    expect(items[0]!.truth).toEqual({ kind: 'objects', objects: ['dog', 'sofa'] });
    expect(items[1]!.truth).toBeNull();
    expect(items[1]!.id).toBe('probe.json#1');
    expect(report.issues.map((i) => [i.severity, i.code, i.field, i.record])).toEqual([['note', 'empty-field', 'objects', 0]]);
  });
});

describe('importProbeSet: bad sets get record-level errors naming file, line, record and field', () => {
  it('every broken record is excluded with its reason; the good ones are kept', async () => {
    const dir = await set('bad', {
      'probe.jsonl': jsonl([
        { image: 'a.png', text: 'Is there a dog?', label: 'yes' }, // 0 ok
        '{"image": "a.png", "text": ', // 1 invalid line
        [1, 2], // 2 not an object
        { text: 'Is there a cat?', label: 'no' }, // 3 no image
        { image: 'a.png', label: 'no' }, // 4 no question
        { image: 'a.png', text: 'Is there a car?', label: 'maybe' }, // 5 bad label
        { image: 'a.png', text: 'Describe.', objects: 'dog' }, // 6 objects not a list
        { image: 'missing.png', text: 'Is there a cat?', label: 'no' }, // 7 image not found
        { image: '../probe-outside/secret.png', text: 'Is there a cat?', label: 'no' }, // 8 escape
        { image: 'a.png', text: 'Is there a dog?', label: 'yes' }, // 9 duplicate of 0
        { image: 'a.png', text: 'Both?', label: 'yes', objects: ['dog'] }, // 10 both truths
        { image: 'notes.txt', text: 'Is there a cat?', label: 'no' }, // 11 not an image
        { image: 'b.png', text: '  ', label: 'no' }, // 12 empty question
      ]),
      'notes.txt': 'hello',
    });
    const { items, report } = await importProbeSet(dir);
    expect(items.map((i) => i.index)).toEqual([0]);
    expect(report.excluded).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const errors = report.issues.filter((i) => i.severity === 'error').map((i) => [i.code, i.field, i.record]);
    expect(errors).toEqual([
      ['invalid-json-line', undefined, 1],
      ['not-an-object', undefined, 2],
      ['missing-field', 'image', 3],
      ['missing-field', 'text', 4],
      ['wrong-type', 'label', 5],
      ['wrong-type', 'objects', 6],
      ['image-not-found', 'image', 7],
      ['image-path-escape', 'image', 8],
      ['duplicate-record', undefined, 9],
      ['wrong-type', 'objects', 10],
      ['image-not-image', 'image', 11],
      ['empty-field', 'text', 12],
    ]);
    const msg = (r: number) => report.issues.find((i) => i.record === r && i.severity === 'error')!.message;
    expect(msg(5)).toBe('probe.jsonl:6, record 5, field "label": must be "yes" or "no", but is "maybe"');
    expect(msg(3)).toBe('probe.jsonl:4, record 3, field "image": is missing (the image file, relative to the probe file; also read from "image_path", "img_path", "img")');
    expect(msg(9)).toBe('probe.jsonl:10, record 9: asks the same question about the same image as record 0; only the first is kept');
    expect(report.summary).toMatchObject({ records: 13, valid: 1, excluded: 12 });
  });

  it('dataset-level problems: not JSON, empty, no probe file, two probe files, a missing root', async () => {
    const broken = await set('broken', { 'probe.json': '[{"image": "a.png",' });
    expect((await importProbeSet(broken)).report.issues.map((i) => [i.code, i.message])).toEqual([
      ['invalid-json', expect.stringMatching(/^probe\.json: is not valid JSON \(/)],
    ]);
    const empty = await set('empty', { 'probe.jsonl': '\n' });
    expect((await importProbeSet(empty)).report.issues.map((i) => i.code)).toEqual(['empty-dataset']);
    const none = await set('none', {});
    expect((await importProbeSet(none)).report.issues.map((i) => i.code)).toEqual(['unknown-format']);
    const two = await set('two', { 'x.jsonl': '', 'y.json': '[]' });
    const r = await importProbeSet(two);
    expect(r.report.issues.map((i) => i.code)).toEqual(['ambiguous-dataset']);
    expect(r.items).toEqual([]);
    await expect(importProbeSet(path.join(root, 'nope'))).rejects.toBeInstanceOf(DatasetError);
  });
});
