/**
 * Resume is tied to its inputs (issue 18, item 1): a checkpoint records fingerprints of the base
 * weights, tokenizer, dataset and m' strategy; resuming with any of them changed is refused with
 * a message naming what changed, while another backend or engine version goes on with a note.
 * Each case calls trainPreference the way a user's resume would, on the real tiny model.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { makeNegative } from '../data/negatives';
import type { Rng } from '../rng';
import type { LoopConfig } from './config';
import { CheckpointError, loadCheckpoint } from './checkpoint';
import { FrameHash, INPUTS_SCHEMA, compareInputs, preferenceInputs, referenceScope, tokenizerFingerprint } from './fingerprint';
import { trainPreference } from './loop';
import { RefCache } from './ref-cache';
import { IMAGE, TinyPreferenceSource, tinyModel } from './test-fixtures';
import type { StartEvent } from './types';

const tmpRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'mdpo-inputs-'));
afterAll(() => fs.rm(tmpRoot, { recursive: true, force: true }));
beforeAll(async () => {
  await initBackend('cpu');
});

// 8 pairs, 2 x 2 per step: 2 steps per epoch; stop after step 1, resume to step 2.
const CFG: Partial<LoopConfig> = { batchSize: 2, gradAccum: 2, maxSteps: 2, learningRate: 5e-3, seed: 9, checkpointEvery: 1 };

/** m' from another crop range: the same strategy with other parameters. */
class WiderCropSource extends TinyPreferenceSource {
  override negative(i: number, _epoch: number, rng: Rng): Float32Array {
    return makeNegative(this.pairs[i].image, IMAGE, IMAGE, { kind: 'crop', minArea: 0.3, maxArea: 0.6 }, rng);
  }
}

/** Trains one step of two into a fresh checkpoint directory (an interrupted run); returns it. */
async function firstStep(tag: string, tokenizer: string | null = 'tok-a'): Promise<string> {
  const dir = path.join(tmpRoot, tag);
  const model = tinyModel();
  const stop = new AbortController();
  const r = await trainPreference(model, new TinyPreferenceSource(8), { ...CFG, checkpointDir: dir }, {
    inputs: { tokenizer },
    signal: stop.signal,
    onStep: () => stop.abort(),
  });
  expect(r).toMatchObject({ status: 'aborted', step: 1 });
  model.dispose();
  return dir;
}

async function resume(dir: string, opts: { seed?: number; source?: TinyPreferenceSource; tokenizer?: string | null } = {}) {
  const model = tinyModel(opts.seed ?? 1);
  const starts: StartEvent[] = [];
  try {
    return await trainPreference(model, opts.source ?? new TinyPreferenceSource(8), { ...CFG, checkpointDir: dir }, {
      resumeFrom: dir,
      inputs: { tokenizer: opts.tokenizer === undefined ? 'tok-a' : opts.tokenizer },
      onStart: (e) => starts.push(e),
    }).then((r) => ({ ...r, starts }));
  } finally {
    model.dispose();
  }
}

async function editState(dir: string, edit: (state: Record<string, unknown>) => void): Promise<void> {
  const file = path.join(dir, 'checkpoint-000001', 'state.json');
  const state = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>;
  edit(state);
  await fs.writeFile(file, JSON.stringify(state));
}

describe('a resume is refused when its inputs changed', () => {
  it('resuming with unchanged inputs goes on, with no notes', async () => {
    const dir = await firstStep('same');
    const r = await resume(dir);
    expect(r).toMatchObject({ status: 'completed', step: 2 });
    expect(r.starts).toEqual([{ totalSteps: 2, startStep: 1, size: 8, notes: [] }]);
  });

  it('other base weights', async () => {
    const dir = await firstStep('base');
    await expect(resume(dir, { seed: 2 })).rejects.toThrow(CheckpointError);
    await expect(resume(dir, { seed: 2 })).rejects.toThrow(/changed since the checkpoint: the base model's weights \(fingerprint [0-9a-f]{12} -> [0-9a-f]{12}\)\./);
  });

  it('other pair contents (same number of pairs)', async () => {
    const dir = await firstStep('contents');
    await expect(resume(dir, { source: new TinyPreferenceSource(8, 8) })).rejects.toThrow(/the dataset's records \(same 8 pairs, different contents/);
  });

  it('another number of pairs', async () => {
    const dir = await firstStep('count');
    await expect(resume(dir, { source: new TinyPreferenceSource(10) })).rejects.toThrow(/the dataset: 8 pairs -> 10 pairs/);
  });

  it("another m' strategy or parameters", async () => {
    const dir = await firstStep('negative');
    await expect(resume(dir, { source: new WiderCropSource(8) })).rejects.toThrow(/the m' strategy or its parameters/);
  });

  it('another tokenizer', async () => {
    const dir = await firstStep('tokenizer');
    await expect(resume(dir, { tokenizer: 'tok-b' })).rejects.toThrow(/the tokenizer \(fingerprint tok-a -> tok-b\)/);
  });

  it('a checkpoint written by another engine, or before fingerprints existed', async () => {
    const torch = await firstStep('torch');
    await editState(torch, (s) => ((s.inputs as { engine: { name: string } }).engine.name = 'torch'));
    await expect(resume(torch)).rejects.toThrow(/the engine: the checkpoint was written by torch, this run uses tfjs/);
    const legacy = await firstStep('legacy');
    await editState(legacy, (s) => {
      delete s.inputs;
      s.version = 1;
    });
    await expect(resume(legacy)).rejects.toThrow(/records no input fingerprints \(written by an older version\)/);
  });

  it('another backend or engine version goes on, with a note', async () => {
    const dir = await firstStep('backend');
    await editState(dir, (s) => {
      const engine = (s.inputs as { engine: { backend: string; version: string } }).engine;
      engine.backend = 'webgpu';
      engine.version = '0.0.1';
    });
    const r = await resume(dir);
    expect(r).toMatchObject({ status: 'completed', step: 2 });
    expect(r.starts[0].notes).toEqual([
      'resumed on the cpu backend; the checkpoint was written on webgpu (results agree to float32 rounding, not bit for bit)',
      expect.stringMatching(/^tfjs \S+ continues a checkpoint written by tfjs 0\.0\.1$/),
    ]);
  });
});

describe('the fingerprint record', () => {
  it('is written into every checkpoint, and the reference cache is scoped by it', async () => {
    const dir = await firstStep('record');
    const ck = await loadCheckpoint(dir);
    const inputs = ck.state.inputs!;
    expect(inputs.schema).toBe(INPUTS_SCHEMA);
    expect(inputs.base).toMatch(/^[0-9a-f]{64}$/);
    expect(inputs.tokenizer).toBe('tok-a');
    expect(inputs.dataset).toEqual({ size: 8, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(inputs.negative).toMatchObject({ fixedPerPair: true, spec: null });
    expect(inputs.engine).toMatchObject({ name: 'tfjs', backend: 'cpu' });
    expect(ck.state.refCache!.scope).toBe(referenceScope(inputs));
    expect(ck.state.refCache!.keys.length).toBe(12); // 4 pairs x (chosen, rejected, imageless)
  });

  it('dataset hash: frames of id, token ids and pixels, computed by hand for one pair', async () => {
    const source = new TinyPreferenceSource(1);
    const e = source.pairs[0];
    const frame = (b: Buffer) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return Buffer.concat([len, b]);
    };
    const ints = (a: number[]) => Buffer.from(Int32Array.from(a).buffer);
    const { createHash } = await import('node:crypto');
    const want = createHash('sha256')
      .update(Buffer.concat([frame(Buffer.from(e.id)), frame(ints(e.promptIds)), frame(ints(e.chosenIds)), frame(ints(e.rejectedIds)), frame(Buffer.from(e.image.buffer))]))
      .digest('hex');
    const model = tinyModel();
    const got = await preferenceInputs(model, source, { seed: 0, negativeFixedPerPair: true });
    model.dispose();
    expect(got.dataset).toEqual({ size: 1, sha256: want });
  });

  it('tokenizer hash: the tokenizer files of a model folder, by name and bytes', async () => {
    const dir = path.join(tmpRoot, 'tok');
    await fs.mkdir(dir, { recursive: true });
    expect(await tokenizerFingerprint(dir)).toBeNull();
    await fs.writeFile(path.join(dir, 'tokenizer.json'), '{"a":1}');
    const one = await tokenizerFingerprint(dir);
    expect(one).toBe(new FrameHash().text('tokenizer.json').text('{"a":1}').hex());
    await fs.writeFile(path.join(dir, 'tokenizer.json'), '{"a":2}');
    expect(await tokenizerFingerprint(dir)).not.toBe(one);
  });

  it('a cache saved in another scope is not used', () => {
    const saved = new RefCache('scope-a');
    saved.set('p', 'chosen', -3);
    expect(RefCache.from(saved.export(), 'scope-a').get('p', 'chosen')).toBe(-3);
    expect(RefCache.from(saved.export(), 'scope-b').size).toBe(0);
    expect(RefCache.from({ keys: ['p\u0000chosen'], values: [-3] }, 'scope-a').size).toBe(0); // version 1: no scope
  });

  it('compareInputs names every change at once', () => {
    const base = { schema: INPUTS_SCHEMA, base: 'a'.repeat(64), tokenizer: null, dataset: { size: 3, sha256: 'd' }, negative: { fixedPerPair: true, spec: { kind: 'crop', minArea: 0.01, maxArea: 0.2 }, sha256: 'n' }, engine: { name: 'tfjs', version: '1', backend: 'cpu' } } as const;
    const now = { ...base, base: 'b'.repeat(64), negative: { fixedPerPair: false, spec: { kind: 'random-image' }, sha256: 'm' } };
    expect(compareInputs(base, now).changed).toEqual([
      "the base model's weights (fingerprint aaaaaaaaaaaa -> bbbbbbbbbbbb)",
      "the m' strategy or its parameters (crop minArea=0.01 maxArea=0.2, fixed per pair -> random-image, per epoch; the m' images differ)",
    ]);
  });
});
