/**
 * Hallucination inspection through the API (validating dispatcher, real trainer processes):
 * import a POPE-labelled and an object-annotated probe set, answer both with two runs of a
 * real-family tiny checkpoint, reuse stored answers when nothing changed, resume a job killed
 * mid-way without redoing its finished items, judge (marks, verdicts, undo) and watch the
 * tallies, export the pairs and import them back as a dataset, export judgments and the report.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dispatch } from '../src/main/api/dispatch';
import { openBackend, type Backend } from '../src/main/backend-context';
import { forkTrainer, type TrainerLauncher } from '../src/main/trainer/launch';
import type { AnswerJob, ApiEvent, EvalSetDetail, InspectPage } from '../src/shared/api';
import { trainConfigSchema } from '../src/shared/schemas';
import { REPO_ROOT, tempDir, writeTinyDataset } from './api-fixtures';
import { writeHfRuns, writeProbeSets, writeWorldRunAndSet } from './inspect-fixtures';

let tmp: ReturnType<typeof tempDir>;
let backend: Backend;
let runIds: number[];
let pope: EvalSetDetail;
let objects: EvalSetDetail;
/** Kill the answer process after this many answers (null: never). */
let killAfter: number | null = null;
let launched = 0;

const crashingLauncher: TrainerLauncher = (env) => {
  launched++;
  const h = forkTrainer(env);
  let seen = 0;
  let killed = false;
  return {
    ...h,
    pid: h.pid,
    onMessage: (listener) =>
      h.onMessage((m) => {
        // What a killed process had already queued never reaches the parent (as in a real crash).
        if (killed) return;
        listener(m);
        if (m.type === 'itemAnswer' && killAfter !== null && ++seen === killAfter) {
          killed = true;
          h.kill('SIGKILL');
        }
      }),
  };
};

const call = (channel: string, input?: unknown) => dispatch(backend.handlers, channel, input);
async function value<T>(channel: string, input?: unknown): Promise<T> {
  const r = await call(channel, input);
  if (!r.ok) throw new Error(`${channel}: ${JSON.stringify(r.error)}`);
  return r.value as T;
}
const idle = () => waitJobs();
async function waitJobs(...extra: number[]): Promise<void> {
  for (;;) {
    const all: AnswerJob[] = [];
    for (const setId of [pope.id, objects.id, ...extra]) all.push(...(await value<AnswerJob[]>('answers:jobs', { setId })));
    if (all.every((j) => j.status !== 'queued' && j.status !== 'running')) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  tmp = tempDir('mdpo-inspect-');
  backend = openBackend({ home: join(tmp.dir, 'home'), mode: 'browser', appRoot: REPO_ROOT, launcher: crashingLauncher });
  ({ runIds } = await writeHfRuns(tmp.dir, backend.store));
  const sets = await writeProbeSets(tmp.dir);
  pope = await value<EvalSetDetail>('evalsets:import', { path: sets.pope, name: 'pope' });
  objects = await value<EvalSetDetail>('evalsets:import', { path: join(sets.objects, 'probe.json') });
}, 120_000);
afterAll(async () => {
  await backend.close();
  tmp.cleanup();
});

describe('evaluation sets', () => {
  it('imports both kinds with their ground truth counted; bad input names the field', async () => {
    expect(pope).toMatchObject({ name: 'pope', kind: 'probe', items: 4, kinds: { yesno: 4, objects: 0, none: 0 } });
    expect(objects).toMatchObject({ name: 'probe.json', items: 3, kinds: { yesno: 0, objects: 3, none: 0 } });
    expect(await value('evalsets:list')).toHaveLength(2);
    const r = await call('evalsets:import', { path: join(tmp.dir, 'nothing-here') });
    expect(r).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'path' } });
    const m = await call('answers:start', { setId: pope.id, models: ['run:abc'] });
    expect(m).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'models.0' } });
    const gone = await call('answers:start', { setId: pope.id, models: ['run:999'] });
    expect(gone).toMatchObject({ ok: false, error: { code: 'not_found', field: 'models.0' } });
    const held = await call('evalsets:fromRun', { runId: runIds[0] });
    expect(held).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'runId' } });
  });
});

describe('held-out records of a run', () => {
  it('become an evaluation set: the seeded split the engine skips, with their pairs as reference', async () => {
    const d = await value<{ id: number }>('datasets:import', { path: await writeTinyDataset(tmp.dir, 5) });
    const config = trainConfigSchema.parse({ datasetId: d.id, holdOut: 2, seed: 4 });
    const runId = backend.store.insertRun({ name: 'held', datasetId: d.id, variant: 'mdpo', config, runDir: join(tmp.dir, 'held-run'), status: 'completed' });
    const set = await value<EvalSetDetail>('evalsets:fromRun', { runId });
    expect(set).toMatchObject({ kind: 'holdout', runId, items: 2, kinds: { none: 2 } });
    const { splitHeldOut } = await import('../src/core/data/holdout');
    const { items: records } = await value<{ items: { id: string; prompt: string; chosen: string }[] }>('datasets:records', { datasetId: d.id });
    expect(records).toHaveLength(5);
    const expected = splitHeldOut(records, 2, 4).heldOut;
    const page = await value<InspectPage>('inspect:page', { setId: set.id, modelA: `run:${runIds[0]}`, modelB: `run:${runIds[1]}` });
    expect(page.items.map((i) => [i.key, i.question, i.reference?.chosen])).toEqual(expected.map((r) => [r.id, r.prompt, r.chosen]));
    // A run cannot hold out everything: refused at creation, naming the field.
    const all = await call('runs:create', { config: { datasetId: d.id, holdOut: 5 } });
    expect(all).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'config.holdOut' } });
    // Asking again gives the same set, not a copy.
    expect((await value<EvalSetDetail>('evalsets:fromRun', { runId })).id).toBe(set.id);
    await value('evalsets:delete', { setId: set.id });
  });
});

describe('answer jobs', () => {
  it('lists the base and both runs as models', async () => {
    const models = await value<{ key: string; runId: number }[]>('answers:models');
    // The held-out test's run (built-in base, no adapter) offers its base only.
    expect(models.filter((m) => runIds.includes(m.runId)).map((m) => m.key)).toEqual([`base:${runIds[0]}`, `run:${runIds[0]}`, `run:${runIds[1]}`]);
    expect(models.filter((m) => !runIds.includes(m.runId)).map((m) => m.key.split(':')[0])).toEqual(['base']);
  });

  it('answers every item with both runs, with fingerprints and settings recorded', async () => {
    const events: Extract<ApiEvent, { type: 'answers:progress' }>[] = [];
    const off = backend.subscribe((e) => e.type === 'answers:progress' && events.push(e));
    const jobs = await value<AnswerJob[]>('answers:start', { setId: pope.id, models: runIds.map((id) => `run:${id}`), maxTokens: 6 });
    expect(jobs.map((j) => [j.modelKey, j.total, j.settings])).toEqual(runIds.map((id) => [`run:${id}`, 4, { maxTokens: 6, temperature: 0, seed: 0 }]));
    await idle();
    const done = await value<AnswerJob[]>('answers:jobs', { setId: pope.id });
    expect(done.map((j) => [j.status, j.done, j.reused])).toEqual([['completed', 4, 0], ['completed', 4, 0]]);
    expect(done[0]!.modelFingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(done[0]!.modelFingerprint).toBe(done[1]!.modelFingerprint);
    expect(done[0]!.adapterFingerprint).not.toBe(done[1]!.adapterFingerprint);
    off();
    // Progress per answer for each job, an ETA once a rate is known, then the end.
    const first = events.filter((e) => e.jobId === jobs[0]!.id);
    expect(first.map((e) => [e.status, e.done])).toEqual([['queued', 0], ['running', 1], ['running', 2], ['running', 3], ['running', 4], ['completed', 4]]);
    expect(first[3]!.etaMs).toEqual(expect.any(Number));
  }, 240_000);

  it('reuses stored answers when nothing changed: no process starts, reused = total', async () => {
    const before = launched;
    const again = await value<AnswerJob[]>('answers:start', { setId: pope.id, models: [`run:${runIds[0]}`], maxTokens: 6, seed: 5 });
    expect(again[0]).toMatchObject({ status: 'completed', done: 4, reused: 4 });
    expect(launched).toBe(before);
  });

  it('a job killed mid-way is failed; starting it again answers only the missing items', async () => {
    killAfter = 1;
    await value('answers:start', { setId: objects.id, models: [`run:${runIds[0]}`], maxTokens: 6 });
    await idle();
    const [crashed] = await value<AnswerJob[]>('answers:jobs', { setId: objects.id });
    expect(crashed).toMatchObject({ status: 'failed', done: 1, total: 3, error: { name: 'Interrupted' } });
    killAfter = null;
    const [resumed] = await value<AnswerJob[]>('answers:start', { setId: objects.id, models: [`run:${runIds[0]}`], maxTokens: 6 });
    expect(resumed).toMatchObject({ reused: 1, total: 3 });
    await value('answers:start', { setId: objects.id, models: [`run:${runIds[1]}`], maxTokens: 6 });
    await idle();
    const jobs = await value<AnswerJob[]>('answers:jobs', { setId: objects.id });
    expect(jobs.map((j) => [j.status, j.done, j.reused])).toEqual([['failed', 1, 0], ['completed', 3, 1], ['completed', 3, 0]]);
  }, 240_000);
});

describe('cancel', () => {
  it('cancels a queued job at once and a running one between items; both keep their answers for a resume', async () => {
    let cancelRunning: Promise<unknown> | null = null;
    const off = backend.subscribe((e) => {
      if (e.type === 'answers:progress' && e.status === 'running' && e.done === 1 && !cancelRunning) cancelRunning = value('answers:cancel', { jobId: e.jobId });
    });
    const jobs = await value<AnswerJob[]>('answers:start', { setId: pope.id, models: runIds.map((id) => `run:${id}`), maxTokens: 5 });
    const queued = await value<AnswerJob>('answers:cancel', { jobId: jobs[1]!.id });
    expect(queued).toMatchObject({ status: 'cancelled', done: 0 });
    await waitJobs();
    off();
    const [running] = (await value<AnswerJob[]>('answers:jobs', { setId: pope.id })).filter((j) => j.id === jobs[0]!.id);
    expect(running!.status).toBe('cancelled');
    expect(running!.done).toBeGreaterThanOrEqual(1);
    expect(running!.done).toBeLessThan(4);
    const again = await call('answers:cancel', { jobId: jobs[0]!.id });
    expect(again).toMatchObject({ ok: false, error: { code: 'conflict', field: 'jobId' } });
    const [resumed] = await value<AnswerJob[]>('answers:start', { setId: pope.id, models: [`run:${runIds[0]}`], maxTokens: 5 });
    expect(resumed!.reused).toBe(running!.done);
    await waitJobs();
    // The page shows each model's newest job: back to the 6-token answers (all reused, no process).
    const before = launched;
    const back = await value<AnswerJob[]>('answers:start', { setId: pope.id, models: runIds.map((id) => `run:${id}`), maxTokens: 6 });
    expect(back.map((j) => [j.status, j.reused])).toEqual([['completed', 4], ['completed', 4]]);
    expect(launched).toBe(before);
  }, 240_000);
});

describe('judging, tallies, exports', () => {
  const A = () => `run:${runIds[0]}`;
  const B = () => `run:${runIds[1]}`;
  const page = () => value<InspectPage>('inspect:page', { setId: pope.id, modelA: A(), modelB: B() });

  it('the page has both answers per item, yes/no checks and POPE scores for each model', async () => {
    const p = await page();
    expect(p.total).toBe(4);
    expect(p.items.every((i) => i.a && i.b && i.a.yesNo && i.b.yesNo)).toBe(true);
    expect(p.scores.map((s) => s.pope?.questions)).toEqual([4, 4]);
    for (const [k, s] of p.scores.entries()) {
      const side = k === 0 ? 'a' : 'b';
      const correct = p.items.filter((i) => i[side]!.yesNo!.correct).length;
      expect(s.pope!.accuracy).toBeCloseTo(correct / 4, 12);
    }
    expect(p.tallies).toMatchObject({ items: 4, judged: 0, left: 4, signTest: { p: 1 } });
    const o = await value<InspectPage>('inspect:page', { setId: objects.id, modelA: A(), modelB: B() });
    expect(o.items.every((i) => i.a!.autoMarks !== null)).toBe(true);
    expect(o.scores[0]!.chair!.answers).toBe(3);
  });

  it('marks and verdicts change the tallies at once; undo reverts them; bad spans are refused', async () => {
    let p = await page();
    const [i0, i1, i2] = p.items;
    const a0 = i0!.a!;
    const len = Math.min(3, a0.text.length);
    const bad = await call('inspect:mark', { setId: pope.id, answerId: a0.answerId, start: 0, end: a0.text.length + 5 });
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'end' } });
    const wrongPair = await call('inspect:verdict', { setId: pope.id, answerA: i0!.a!.answerId, answerB: i1!.b!.answerId, verdict: 'a' });
    expect(wrongPair).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'answerB' } });
    if (a0.text.trim().length > 0) {
      const start = a0.text.search(/\S/);
      await value('inspect:mark', { setId: pope.id, answerId: a0.answerId, start, end: Math.min(a0.text.length, start + len) });
    }
    await value('inspect:verdict', { setId: pope.id, answerA: i0!.a!.answerId, answerB: i0!.b!.answerId, verdict: 'b', note: 'A invents' });
    await value('inspect:verdict', { setId: pope.id, answerA: i1!.a!.answerId, answerB: i1!.b!.answerId, verdict: 'b' });
    await value('inspect:verdict', { setId: pope.id, answerA: i2!.a!.answerId, answerB: i2!.b!.answerId, verdict: 'tie' });
    p = await page();
    const marked = a0.text.trim().length > 0 ? 1 : 0;
    expect(p.tallies).toMatchObject({ judged: 3, left: 1, verdicts: { a: 0, b: 2, tie: 1, 'both-wrong': 0 }, signTest: { wins: 0, losses: 2, p: 0.5 } });
    expect(p.tallies.humanRate.a).toMatchObject({ k: marked, n: 3 });
    expect(p.items[0]!.note).toBe('A invents');
    expect(await value('inspect:undo', { setId: pope.id })).toEqual({ undone: 'verdict' });
    p = await page();
    expect(p.tallies).toMatchObject({ judged: 2, left: 2, verdicts: { tie: 0 } });
  });

  it('exports the judged pairs in silkie-jsonl, which imports straight back as a dataset', async () => {
    const out = join(tmp.dir, 'pairs');
    const r = await value<{ path: string; pairs: number; skipped: number; datasetId: number | null }>('inspect:exportPairs', { setId: pope.id, modelA: A(), modelB: B(), dir: out, import: true });
    const p = await page();
    const expected = p.items.filter((i) => (i.verdict === 'a' || i.verdict === 'b') && i.a!.text.trim() !== '' && i.b!.text.trim() !== '' && i.a!.text.trim() !== i.b!.text.trim()).length;
    expect(expected).toBeGreaterThan(0);
    expect(r.pairs).toBe(expected);
    const lines = readFileSync(r.path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { chosen: string; rejected: string; img_path: string });
    for (const l of lines) expect(existsSync(join(out, l.img_path))).toBe(true);
    if (expected > 0) {
      expect(lines[0]!.chosen).toBe(p.items[0]!.b!.text);
      const d = await value<{ counts: { valid: number } }>('datasets:get', { datasetId: r.datasetId });
      expect(d.counts.valid).toBe(expected);
    }
    const again = await call('inspect:exportPairs', { setId: pope.id, modelA: A(), modelB: B(), dir: out });
    expect(again).toMatchObject({ ok: false, error: { code: 'bad_request', field: 'dir' } });
  });

  it('exports judgments as CSV and writes a self-contained HTML report', async () => {
    const csv = await value<{ path: string; rows: number }>('inspect:exportJudgments', { setId: pope.id, modelA: A(), modelB: B(), path: join(tmp.dir, 'j.csv') });
    const text = readFileSync(csv.path, 'utf8');
    expect(text.split('\r\n')[0]).toBe('item,question,truth,model_a,answer_a,marks_a,model_b,answer_b,marks_b,verdict,note');
    expect(csv.rows).toBe(2);
    const rep = await value<{ path: string; items: number }>('inspect:report', { setId: pope.id, modelA: A(), modelB: B(), path: join(tmp.dir, 'report.html') });
    const html = readFileSync(rep.path, 'utf8');
    expect(rep.items).toBe(4);
    expect(html).toContain('Sign test');
    expect((html.match(/<img src="data:image\/png;base64,/g) ?? []).length).toBe(4);
    expect(html).not.toMatch(/<script|src="http/);
  });
});

describe('object-annotated world scenes with the built-in base (answers that name objects)', () => {
  it('automatic marks agree with the world\'s own object parser on every span in the set\'s vocabulary', async () => {
    const world = await writeWorldRunAndSet(tmp.dir, backend.store, 4);
    const set = await value<EvalSetDetail>('evalsets:import', { path: world.set });
    expect(set.kinds).toEqual({ yesno: 0, objects: 4, none: 0 });
    await value('answers:start', { setId: set.id, models: [`base:${world.runId}`, `run:${world.runId}`], maxTokens: 24 });
    await waitJobs(set.id);
    const p = await value<InspectPage>('inspect:page', { setId: set.id, modelA: `base:${world.runId}`, modelB: `run:${world.runId}` });
    const { markAnswer } = await import('../src/main/trainer/evaluate');
    const vocabulary = new Set(p.items.flatMap((i) => (i.truth?.kind === 'objects' ? i.truth.objects : [])));
    let marks = 0;
    for (const item of p.items) {
      const truth = item.truth?.kind === 'objects' ? item.truth.objects : [];
      for (const ans of [item.a!, item.b!]) {
        const said = markAnswer(ans.text, []).objects.filter((o) => vocabulary.has(o.name));
        const expected = said.map((o) => [o.start, o.end, o.name, truth.includes(o.name) ? 'correct' : 'hallucinated']);
        expect(ans.autoMarks!.map((m) => [m.start, m.end, m.object, m.kind]), ans.text).toEqual(expected);
        marks += expected.length;
      }
    }
    expect(marks, 'the base names objects in its descriptions').toBeGreaterThan(0);
    const chair = p.scores[0]!.chair!;
    const all = p.items.flatMap((i) => i.a!.autoMarks!);
    expect(chair.mentions).toBe(all.length);
    expect(chair.chairI).toBeCloseTo(all.filter((m) => m.kind === 'hallucinated').length / all.length, 12);
  }, 240_000);
});
