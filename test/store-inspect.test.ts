/**
 * The inspection store (migration 2): sets and items, answer jobs with answers reused by key and
 * resumable item by item, human marks and verdicts with undo, and cascades on delete.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Store } from '../src/main/store';
import Database from 'better-sqlite3';
import { InspectStore, type NewEvalSet } from '../src/main/store/inspect';
import { MIGRATIONS, migrate } from '../src/main/store/migrations';

let dir: string;
let store: Store;
let inspect: InspectStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdpo-inspect-'));
  store = Store.open(join(dir, 'studio.db'));
  inspect = new InspectStore(store.db);
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const img = (n: string) => ({ kind: 'file' as const, path: `/data/${n}.png`, relPath: `${n}.png` });
const probe = (): NewEvalSet => ({
  name: 'mine',
  kind: 'probe',
  sourcePath: '/data/probe.jsonl',
  format: 'probe-jsonl',
  counts: { records: 4, errors: 1, warnings: 0 },
  report: { root: '/data', format: 'probe-jsonl', files: ['probe.jsonl'], excluded: [3], issues: [], createdAt: '' },
  items: [
    { index: 0, key: 'q1', image: img('a'), question: 'Is there a dog?', truth: { kind: 'yesno', label: 'yes' } },
    { index: 1, key: 'q2', image: img('a'), question: 'Describe.', truth: { kind: 'objects', objects: ['dog'] } },
    { index: 2, key: 'q3', image: img('b'), question: 'What?', truth: null },
  ],
});

describe('InspectStore', () => {
  it('stores a set with its items and counts them by ground truth', () => {
    const id = inspect.insertSet(probe());
    expect(inspect.listSets()).toEqual([
      expect.objectContaining({ id, name: 'mine', kind: 'probe', items: 3, kinds: { yesno: 1, objects: 1, none: 1 }, counts: { records: 4, errors: 1, warnings: 0 } }),
    ]);
    const items = inspect.items(id);
    expect(items.map((i) => [i.key, i.image, i.truth])).toEqual([
      ['q1', `evalitem:${items[0]!.id}`, { kind: 'yesno', label: 'yes' }],
      ['q2', `evalitem:${items[1]!.id}`, { kind: 'objects', objects: ['dog'] }],
      ['q3', `evalitem:${items[2]!.id}`, null],
    ]);
    expect(inspect.getItem(items[0]!.id)!.imageRef).toEqual(img('a'));
    expect(inspect.getSet(id)!.report!.excluded).toEqual([3]);
  });

  it('answers: pending items shrink as answers land; a second write keeps the first; another key starts over', () => {
    const id = inspect.insertSet(probe());
    const items = inspect.items(id);
    expect(inspect.pendingItems(id, 'k1')).toHaveLength(3);
    const a0 = inspect.putAnswer(items[0]!.id, 'k1', 'Yes.');
    expect(inspect.putAnswer(items[0]!.id, 'k1', 'No.')).toBe(a0);
    expect(inspect.pendingItems(id, 'k1').map((i) => i.key)).toEqual(['q2', 'q3']);
    expect(inspect.pendingItems(id, 'k2')).toHaveLength(3);
    expect([...inspect.answers(id, 'k1').values()]).toEqual([{ answerId: a0, itemId: items[0]!.id, text: 'Yes.' }]);
  });

  it('jobs: progress patches, latest job per model, dead owners become interrupted', () => {
    const setId = inspect.insertSet(probe());
    const settings = { maxTokens: 32, temperature: 0, seed: 0 };
    const base = { setId, modelKey: 'run:1', modelLabel: 'run 1', runId: null, modelFingerprint: 'm', adapterFingerprint: 'a', settings, answerKey: 'k', total: 3 };
    const j1 = inspect.insertJob({ ...base, ownerPid: 999999 });
    const j2 = inspect.insertJob({ ...base, ownerPid: process.pid });
    inspect.updateJob(j2, { status: 'running', done: 2, reused: 1 });
    expect(inspect.latestJob(setId, 'run:1')).toMatchObject({ id: j2, status: 'running', done: 2, reused: 1, settings });
    expect(inspect.recoverInterrupted((pid) => pid === process.pid)).toEqual([j1]);
    expect(inspect.getJob(j1)!.status).toBe('interrupted');
    expect(inspect.getJob(j2)!.status).toBe('running');
  });

  it('marks and verdicts are saved at once and undone newest first, back to nothing', () => {
    const setId = inspect.insertSet(probe());
    const [i0] = inspect.items(setId);
    const a = inspect.putAnswer(i0!.id, 'ka', 'A red cat and a dog.');
    const b = inspect.putAnswer(i0!.id, 'kb', 'A dog.');
    expect(inspect.addMark(setId, a, 2, 9)).toBe(true);
    expect(inspect.addMark(setId, a, 2, 9)).toBe(false);
    expect(inspect.marks([a, b]).get(a)).toEqual([{ id: expect.any(Number), start: 2, end: 9, text: 'red cat' }]);
    inspect.setVerdict(setId, a, b, { verdict: 'b', note: '' });
    inspect.setVerdict(setId, a, b, { verdict: 'b', note: 'cat invented' });
    const markId = inspect.marks([a]).get(a)![0]!.id;
    expect(inspect.removeMark(setId, markId)).toBe(true);
    expect(inspect.marks([a]).get(a)).toBeUndefined();

    expect(inspect.undo(setId)).toMatchObject({ op: 'mark-remove' });
    expect(inspect.marks([a]).get(a)!.map((m) => m.text)).toEqual(['red cat']);
    expect(inspect.undo(setId)).toMatchObject({ op: 'verdict' });
    expect(inspect.verdicts(setId)).toEqual([{ answerA: a, answerB: b, verdict: 'b', note: '' }]);
    expect(inspect.undo(setId)).toMatchObject({ op: 'verdict', before: null });
    expect(inspect.verdicts(setId)).toEqual([]);
    expect(inspect.undo(setId)).toMatchObject({ op: 'mark-add' });
    expect(inspect.marks([a]).size).toBe(0);
    expect(inspect.undo(setId)).toBeNull();
  });

  it('deleting a set removes its items, answers, judgments and jobs; a bad span is refused by the schema', () => {
    const setId = inspect.insertSet(probe());
    const [i0] = inspect.items(setId);
    const a = inspect.putAnswer(i0!.id, 'k', 'text');
    expect(() => inspect.addMark(setId, a, 3, 3)).toThrow(/CHECK constraint failed/);
    inspect.addMark(setId, a, 0, 4);
    expect(inspect.deleteSet(setId)).toBe(true);
    for (const t of ['eval_items', 'answers', 'answer_marks', 'judgment_log', 'answer_jobs']) {
      expect((store.db.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n, t).toBe(0);
    }
  });

  it('upgrades a v1 database to v2 in place, keeping its runs and datasets', () => {
    const path = join(dir, 'old.db');
    const old = new Database(path);
    migrate(old, '0.1.0', MIGRATIONS.slice(0, 1));
    old.prepare(`INSERT INTO datasets (name, source_path, format, created_at, record_count, valid_count, error_count, warning_count, report) VALUES ('d', '/x', 'silkie-json', '', 1, 1, 0, 0, '{}')`).run();
    old.close();
    const s2 = Store.open(path);
    expect(s2.schemaVersion()).toBe(2);
    expect(s2.listDatasets().map((d) => d.name)).toEqual(['d']);
    expect(new InspectStore(s2.db).listSets()).toEqual([]);
    s2.close();
  });
});
