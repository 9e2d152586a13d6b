/**
 * datasets:import at the API (issue 18, item 4): an import with zero valid records is refused
 * with the reasons and writes nothing (no store row whose counts disagree with its report, no
 * folder); a path with a NUL byte gets words; the records file is written a batch at a time and
 * reads back as the same records.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeAbandonedImports } from '../src/main/api/datasets';
import { dispatch } from '../src/main/api/dispatch';
import type { Backend } from '../src/main/backend-context';
import { readRecordsFileSync } from '../src/core/data/records-file';
import type { DatasetDetail, DatasetSummary } from '../src/shared/api';
import { openTestBackend, tempDir, writeTinyDataset } from './api-fixtures';

let tmp: ReturnType<typeof tempDir>;
let backend: Backend;
const call = (channel: string, input?: unknown) => dispatch(backend.handlers, channel, input);

beforeAll(() => {
  tmp = tempDir('mdpo-ds-import-');
  backend = openTestBackend(tmp.dir);
});
afterAll(async () => {
  await backend.close();
  tmp.cleanup();
});

const datasetsDir = () => join(tmp.dir, 'datasets');
const folders = () => (existsSync(datasetsDir()) ? readdirSync(datasetsDir()).sort() : []);

describe('datasets:import', () => {
  it('refuses a dataset with no valid record, naming the errors, and writes nothing', async () => {
    const root = join(tmp.dir, 'all-bad');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'data.jsonl'), '{"img_path": "nope.png", "prompt": "q", "chosen": "a", "rejected": "b"}\n{"prompt": oops}\n');
    const listBefore = await call('datasets:list');
    const foldersBefore = folders();
    const r = await call('datasets:import', { path: root });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('bad_request');
    expect(r.error.field).toBe('path');
    expect(r.error.message).toBe(
      `path: Nothing imported from ${root}: 2 records read, none valid (2 errors). ` +
        'data.jsonl:1, record 0, field "img_path": "nope.png" does not exist (looked for ' + join(root, 'nope.png') + '); ' +
        'data.jsonl:2, record 1: is not valid JSON at line 2, column 12: expected a value, found "o". Run "mdpo datasets validate" on it for the full report.',
    );
    expect(await call('datasets:list')).toEqual(listBefore);
    expect(folders()).toEqual(foldersBefore);
  });

  it('refuses a path with a NUL byte in words', async () => {
    const r = await call('datasets:import', { path: `${tmp.dir}/data\u0000set` });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toEqual({ code: 'bad_request', field: 'path', message: `path: The path ${JSON.stringify(`${tmp.dir}/data\u0000set`)} contains a NUL byte (\\0, at character ${tmp.dir.length + 6}); no file or folder name can hold one.` });
  });

  it('writes the records file a batch at a time, as a JSON list that reads back the same', async () => {
    const root = await writeTinyDataset(join(tmp.dir, 'ok'), 5);
    const r = await call('datasets:import', { path: root });
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    const d = r.value as DatasetDetail;
    expect(d.counts).toEqual({ records: 5, valid: 5, errors: 0, warnings: 0 });
    const file = join(datasetsDir(), String(d.id), 'records.json');
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Array<{ index: number; prompt: string }>;
    expect(parsed.map((x) => [x.index, x.prompt])).toEqual([0, 1, 2, 3, 4].map((i) => [i, `What is in picture ${i}?`]));
    expect(readRecordsFileSync(file)).toEqual(parsed);
    expect(folders().filter((f) => f.startsWith('.import-'))).toEqual([]);
    const page = await call('datasets:records', { datasetId: d.id, offset: 3, limit: 10 });
    expect(page.ok && (page.value as { total: number; items: Array<{ index: number }> }).items.map((i) => i.index)).toEqual([3, 4]);
    const list = (await call('datasets:list')) as { ok: true; value: DatasetSummary[] };
    expect(list.value.map((x) => x.id)).toContain(d.id);
  });

  it('removes the temporary folders of imports whose process is gone, not a live one', () => {
    const dead = join(datasetsDir(), '.import-999999999-abc');
    const live = join(datasetsDir(), `.import-${process.pid}-def`);
    const other = join(datasetsDir(), 'notes');
    for (const d of [dead, live, other]) mkdirSync(join(d, 'x'), { recursive: true });
    removeAbandonedImports(datasetsDir());
    expect([existsSync(dead), existsSync(live), existsSync(other)]).toEqual([false, true, true]);
  });
});
