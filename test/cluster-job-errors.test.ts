/**
 * Cluster jobs' refusals (src/main/jobs), without Python: each bad input names the field or file
 * and leaves nothing behind (no half-written job folder, no run in the store).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend, type Backend } from '../src/main/backend-context';
import { exportJob, JOB_FORMAT, JOB_VERSION } from '../src/main/jobs/export';
import { importJob, outcomeOf, readEvents } from '../src/main/jobs/import';
import { trainConfigSchema } from '../src/shared/schemas';
import { tempDir } from './api-fixtures';
import { REPO_ROOT } from './python-env';

const t = tempDir('mdpo-job-errors-');
let backend: Backend;

const base = (over: Record<string, unknown> = {}) => ({
  config: trainConfigSchema.parse({ datasetId: 1, engine: 'torch', baseModel: join(t.dir, 'model'), ...over }),
  name: 'j', run: null, dataset: { id: 1, name: 'd', recordsFile: join(t.dir, 'records.json') }, appRoot: REPO_ROOT, home: t.dir,
  outDir: join(t.dir, 'out-job'), processes: 1, copyModel: true, appVersion: 'test',
});

/** A job folder with job.json and the given events. */
function jobWith(name: string, events: string | null, spec: Record<string, unknown> = {}): string {
  const dir = join(t.dir, name);
  mkdirSync(join(dir, 'out'), { recursive: true });
  writeFileSync(join(dir, 'job.json'), JSON.stringify({ format: JOB_FORMAT, version: JOB_VERSION, name, model: 'model', config: trainConfigSchema.parse({ datasetId: 1, engine: 'torch', baseModel: 'model' }), lineage: { run: null, datasetId: null }, ...spec }));
  if (events !== null) writeFileSync(join(dir, 'out', 'events.jsonl'), events);
  return dir;
}

beforeAll(() => {
  backend = openBackend({ home: join(t.dir, 'home'), mode: 'cli', appRoot: REPO_ROOT });
  mkdirSync(join(t.dir, 'model'));
  writeFileSync(join(t.dir, 'model', 'config.json'), '{}');
});
afterAll(async () => {
  await backend.close();
  t.cleanup();
});

describe('export-job refuses before writing anything', () => {
  it('the built-in world base (tfjs only), a folder without config.json, a bad process count', async () => {
    await expect(exportJob(base({ engine: 'tfjs', baseModel: 'builtin:world-base' }))).rejects.toThrow('The built-in world base trains on the tfjs engine only');
    await expect(exportJob(base({ baseModel: join(t.dir, 'nowhere') }))).rejects.toThrow(`No model folder at ${join(t.dir, 'nowhere')} (config.baseModel)`);
    await expect(exportJob({ ...base(), processes: 0 })).rejects.toThrow('Expected --processes to be a positive integer, but got 0');
    expect(readdirSync(t.dir).filter((n) => n.startsWith('out-job'))).toEqual([]);
  });
  it('a missing records file leaves no temporary folder behind', async () => {
    await expect(exportJob(base())).rejects.toThrow(/records\.json/);
    expect(readdirSync(t.dir).filter((n) => n.startsWith('out-job'))).toEqual([]);
  });
});

describe('import-job', () => {
  const runs = () => backend.store.listRuns().length;
  it('refuses another format or version, a corrupt line in the middle, a finished job without its adapter; no run is left', () => {
    const before = runs();
    expect(() => importJob(backend.store, join(t.dir, 'runs'), jobWith('fmt', '', { format: 'other' }))).toThrow(`field "format" must be "${JOB_FORMAT}"`);
    expect(() => importJob(backend.store, join(t.dir, 'runs'), jobWith('ver', '', { version: 9 }))).toThrow('field "version" is 9; this app reads version 1');
    expect(() => importJob(backend.store, join(t.dir, 'runs'), jobWith('mid', '{"type":"started"}\nnot json\n{"type":"done"}\n'))).toThrow('events.jsonl: line 2 is not valid JSON');
    expect(() => importJob(backend.store, join(t.dir, 'runs'), jobWith('noad', '{"type":"started","totalSteps":2}\n{"type":"done","step":2}\n'))).toThrow('is missing although the job finished');
    expect(runs()).toBe(before);
  });
  it('a last line cut by a kill is ignored; the last session decides the status; re-logged steps keep the last value', () => {
    const dir = jobWith('cut', [
      '{"type":"started","totalSteps":4,"backend":"torch cpu (float32)"}', '{"type":"metrics","step":1,"values":{"loss":1}}',
      '{"type":"metrics","step":2,"values":{"loss":2}}', '{"type":"failed","error":{"name":"E","message":"boom"}}',
      '{"type":"started","totalSteps":4}', '{"type":"metrics","step":2,"values":{"loss":2.5}}', '{"type":"metr',
    ].join('\n'));
    const o = outcomeOf(readEvents(join(dir, 'out', 'events.jsonl')));
    expect([o.status, o.error, o.totalSteps, o.backend, [...o.metrics]]).toEqual(['interrupted', null, 4, 'torch cpu (float32)', [[1, { loss: 1 }], [2, { loss: 2.5 }]]]);
    const r = importJob(backend.store, join(t.dir, 'runs'), dir);
    expect([r.status, r.step, r.checkpoints, r.adapter]).toEqual(['interrupted', 2, [], false]);
    expect(backend.store.readMetrics(r.runId).find((s) => s.name === 'loss')!.values).toEqual([1, 2.5]);
  });
});
