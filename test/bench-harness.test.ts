/**
 * The benchmark harness runs (--quick: the tiny model, one step) and its JSON parses.
 * No timing assertions: speed targets live in the benchmark (bench/README.md), never here.
 * The PyTorch peer is not run (the tests do not install it).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../bench/harness';
import { main, parseArgs } from '../bench/run';

describe('npm run bench --quick', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('parses its options and rejects unknown ones', () => {
    const { options } = parseArgs(['--quick', '--no-peer', '--backend', 'cpu']);
    expect(options.sizes).toEqual(['tiny']);
    expect(options.repeats).toBe(1);
    expect(options.peer).toBe(false);
    expect(options.backend).toBe('cpu');
    expect(() => parseArgs(['--sizes', 'huge'])).toThrow(/Unknown size/);
    expect(() => parseArgs(['--frobnicate'])).toThrow(/Unknown option/);
  });

  it('runs one step without the peer and writes JSON that parses', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-test-'));
    const out = join(dir, 'result.json');
    const lines: string[] = [];
    await main(['--quick', '--no-peer', '--no-ablation', '--variants', 'mdpo', '--backend', 'wasm', '--out', out], (l) => lines.push(l));
    expect(lines.join('\n')).toMatch(/\| tiny \(0\.\d+M\) \| mdpo \| ours \(wasm\)/);
    const r = JSON.parse(await readFile(out, 'utf8')) as BenchResult;
    expect(r.format).toBe('mdpo-studio-bench@1');
    expect(r.backend.name).toBe('wasm');
    expect(r.peer.available).toBe(false);
    expect(r.parity).toEqual([]);
    const ours = r.rows.filter((row) => row.impl === 'ours');
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatchObject({ size: 'tiny', variant: 'mdpo' });
    expect(ours[0].stepMs.n).toBe(1);
    expect(ours[0].flopsPerStep).toBeGreaterThan(0);
    expect(r.profile?.kernels.length).toBeGreaterThan(0);
  });
});
