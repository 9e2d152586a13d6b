/** bench/torch-compare.ts's parity gate and bench/hf-part.ts's flags (the timings themselves are `npm run bench`'s). */
import { describe, expect, it } from 'vitest';
import { hfFlags } from '../bench/hf-part';
import { parityOf, type ImplResult } from '../bench/torch-compare';

const result = (impl: ImplResult['impl'], loss: number, chosen: number, imageless: number | null = null): ImplResult => ({
  impl, variant: 'mdpo', stepMs: [10, 5, 6], cpuMs: [9, 4, 5], losses: [loss, loss - 0.1], logps: [{ chosen, rejected: -50, imageless }], peakRssBytes: 1,
});

describe('HF comparison parity gate', () => {
  const ours = result('torch', 2.0794415, -215.4145, -220.4636);
  it('passes within 1e-4 on the loss and 1e-4 relative on every step-1 log-prob', () => {
    const p = parityOf(result('authors', 2.0794415 + 5e-5, -215.4145 * (1 + 5e-5), -220.4636), ours, true);
    expect(p.ok).toBe(true);
    expect(p.lossDiff).toBeCloseTo(5e-5, 9);
    expect(p.logpRelDiff).toBeCloseTo(5e-5, 9);
    expect(p.step2LossDiff).toBeCloseTo(5e-5, 9);
  });
  it('refuses a step-1 loss 2e-4 away, naming the quantity', () => {
    const p = parityOf(result('trl', 2.0794415 + 2e-4, -215.4145), ours, true);
    expect([p.ok, p.why]).toEqual([false, 'step-1 loss differs by 2.00e-4 (> 0.0001)']);
  });
  it('refuses log-probs of other tokens (m\' log-prob 1% off) even when the loss agrees', () => {
    const p = parityOf(result('authors', 2.0794415, -215.4145, -220.4636 * 1.01), ours, true);
    expect(p.ok).toBe(false);
    expect(p.why).toMatch(/^step-1 log-probs differ by 1\.00e-2 relative/);
  });
  it('refuses when there is no reference run or no step', () => {
    expect(parityOf(result('tfjs', 1, -1), undefined, false).ok).toBe(false);
    expect(parityOf({ ...result('tfjs', 1, -1), losses: [] }, ours, false).why).toBe('no step-1 loss to compare');
  });
});

describe('npm run bench HF flags', () => {
  it('takes its own flags out and leaves the rest to bench/run.ts', () => {
    expect(hfFlags(['--hf-only', '--hf-steps', '4', '--quick', '--hf-pairs', '2', '--hf-rank', '4'])).toEqual({ hf: { mode: 'only', steps: 4, pairs: 2, rank: 4 }, rest: ['--quick'] });
    expect(hfFlags(['--no-hf']).hf.mode).toBe('off');
    expect(hfFlags([]).hf).toEqual({ mode: 'both', steps: 6, pairs: 8, rank: 8 });
    expect(hfFlags(['--quick']).hf.steps).toBe(2);
    expect(hfFlags(['--quick', '--hf-steps', '3']).hf.steps).toBe(3);
  });
  it('refuses a step count that leaves nothing to time', () => {
    expect(() => hfFlags(['--hf-steps', '1'])).toThrow('Expected --hf-steps to be an integer >= 2, but got 1');
  });
});
