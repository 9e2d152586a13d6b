import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CheckpointContent } from './checkpoint';
import { CheckpointError, STATE_FORMAT, latestCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint';
import { INPUTS_SCHEMA } from './fingerprint';
import { decodeTensors, encodeTensors } from './tensor-file';

const tmpRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'mdpo-ckpt-'));
afterAll(() => fs.rm(tmpRoot, { recursive: true, force: true }));

function content(step: number): CheckpointContent {
  return {
    state: {
      format: STATE_FORMAT, version: 1, kind: 'preference', step, epoch: 1, position: 8, rng: [1, 2, 3, 4],
      config: { learningRate: 1e-3 }, variableNames: ['a.lora_A.weight', 'a.lora_B.weight'],
      inputs: {
        schema: INPUTS_SCHEMA, base: 'b'.repeat(64), tokenizer: null, dataset: { size: 3, sha256: 'd'.repeat(64) },
        negative: { fixedPerPair: true, spec: { kind: 'crop', minArea: 0.01, maxArea: 0.2 }, sha256: 'n'.repeat(64) },
        engine: { name: 'tfjs', version: '4', backend: 'cpu' },
      },
      refCache: { scope: 's'.repeat(64), keys: ['p1\u0000chosen'], values: [-12.5] }, metrics: { loss: 2.07 }, savedAt: 'now',
    },
    weights: {
      'a.lora_A.weight': { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6 + step]) },
      'a.lora_B.weight': { shape: [1, 2], data: new Float32Array([0.1, -0.2]) },
    },
    optimizer: { step, m: [new Float32Array(6).fill(0.5), new Float32Array([1, 2])], v: [new Float32Array(6).fill(0.25), new Float32Array([3, 4])] },
  };
}

describe('tensor files', () => {
  it('safetensors layout: header length, aligned JSON header, F32 data', () => {
    const bytes = encodeTensors({ x: { shape: [3], data: new Float32Array([1, -2, 3.5]) } });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString());
    expect(header.x).toEqual({ dtype: 'F32', shape: [3], data_offsets: [0, 12] });
    expect(Array.from(decodeTensors(bytes).x.data)).toEqual([1, -2, 3.5]);
    expect(() => encodeTensors({ y: { shape: [2], data: new Float32Array(3) } })).toThrow(/needs 2 values, but got 3/);
  });
});

describe('checkpoints', () => {
  it('round-trip every field, and latest.json points at the newest', async () => {
    const dir = path.join(tmpRoot, 'run1');
    const saved = await saveCheckpoint(dir, content(5));
    expect(path.basename(saved)).toBe('checkpoint-000005');
    expect(await latestCheckpoint(dir)).toBe(saved);
    const back = await loadCheckpoint(dir);
    const want = content(5);
    expect(back.state).toEqual(want.state);
    expect(back.weights['a.lora_A.weight']).toEqual(want.weights['a.lora_A.weight']);
    expect(back.optimizer).toEqual(want.optimizer);
  });

  it('keeps the newest three, replaces a same-step checkpoint, ignores a half-written one', async () => {
    const dir = path.join(tmpRoot, 'run2');
    for (const s of [1, 2, 3, 4, 5]) await saveCheckpoint(dir, content(s));
    await saveCheckpoint(dir, content(5));
    // A crash while writing: a temporary folder is left behind; nothing points at it.
    await fs.mkdir(path.join(dir, 'checkpoint-000006.tmp-1-2'));
    await fs.writeFile(path.join(dir, 'checkpoint-000006.tmp-1-2', 'state.json'), '{"trunc');
    const entries = (await fs.readdir(dir)).filter((e) => /^checkpoint-\d+$/.test(e)).sort();
    expect(entries).toEqual(['checkpoint-000003', 'checkpoint-000004', 'checkpoint-000005']);
    expect((await loadCheckpoint(dir)).state.step).toBe(5);
    expect((await fs.readdir(dir)).filter((e) => e.includes('.old-') || e.endsWith('.json.tmp'))).toEqual([]);
  });

  it('refuses what is not a checkpoint, or one from the future', async () => {
    await expect(loadCheckpoint(path.join(tmpRoot, 'nothing'))).rejects.toThrow(CheckpointError);
    const dir = path.join(tmpRoot, 'run3');
    const saved = await saveCheckpoint(dir, content(1));
    const file = path.join(saved, 'state.json');
    const state = JSON.parse(await fs.readFile(file, 'utf8'));
    await fs.writeFile(file, JSON.stringify({ ...state, version: 99 }));
    await expect(loadCheckpoint(saved)).rejects.toThrow(/newer version/);
  });
});
