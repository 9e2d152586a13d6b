import { describe, expect, it } from 'vitest';
import type { StudyResults } from './results';
import { sweepTable } from './sweep';

const spread = (mean: number, std = 0) => ({ mean, std, min: mean, max: mean, n: 2 });
const arm = (name: string, variant: string, chairS: number, chairI: number, cover: number) => ({
  name,
  variant,
  seeds: [{}, {}],
  summary: { chair_s: spread(chairS, 0.01), chair_i: spread(chairI), cover: spread(cover) },
});
const study = (lr: number, dpo: [number, number, number], mdpo: [number, number, number]) =>
  ({ settings: { learningRate: lr }, arms: [arm('base', 'base', 0.6, 0.4, 0.5), arm('dpo', 'dpo', ...dpo), arm('mdpo', 'mdpo', ...mdpo)] }) as unknown as StudyResults;

describe('sweepTable', () => {
  it('orders the rates, shows the base once, and gives the ratios at each rate', () => {
    const t = sweepTable([study(3e-3, [0.5, 0.4, 0.2], [0.25, 0.2, 0.3]), study(1e-3, [0.5, 0.4, 0.4], [0.4, 0.3, 0.6])]);
    const lines = t.trim().split('\n');
    expect(lines[2]).toMatch(/^\| – \| base \| 2 \| 60\.0 ± 1\.0 \| 40\.0 ± 0\.0 \| 50\.0 ± 0\.0 \|/);
    expect(lines[3]).toMatch(/^\| 0\.001 \| dpo \|/);
    expect(lines[5]).toMatch(/^\| 0\.003 \| dpo \|/);
    expect(t.match(/\| base \|/g)).toHaveLength(1);
    expect(t).toContain('| 0.001 | 0.80 | 0.75 | 1.50 |');
    expect(t).toContain('| 0.003 | 0.50 | 0.50 | 1.50 |');
  });

  it('lists only the arms every study has', () => {
    const main = study(1e-3, [0.5, 0.4, 0.4], [0.4, 0.3, 0.6]);
    const withAblation = { ...main, arms: [...main.arms, arm('mdpo-no-anchor', 'mdpo-no-anchor', 0.1, 0.1, 0.1)] } as unknown as StudyResults;
    const t = sweepTable([withAblation, study(3e-4, [0.5, 0.4, 0.4], [0.4, 0.3, 0.6])]);
    expect(t).not.toContain('mdpo-no-anchor');
    expect(t.match(/\| mdpo \|/g)).toHaveLength(2);
  });

  it('refuses an empty sweep', () => {
    expect(() => sweepTable([])).toThrow('at least one results.json');
  });
});
