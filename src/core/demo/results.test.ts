import { describe, expect, it } from 'vitest';
import type { WorldEvaluation } from '../world/evaluate';
import { METRICS, evaluationRows, formatSpread, mdpoDpoRatios, metricsOf, ratiosLine, resultsTable, spread, summarise, trainingTable, type ArmResult } from './results';

describe('spread and summarise', () => {
  it('mean, sample std (n - 1), min and max', () => {
    const s = spread([0.1, 0.2, 0.6]);
    expect(s.mean).toBeCloseTo(0.3, 12);
    // deviations -0.2, -0.1, 0.3 -> squares 0.04 + 0.01 + 0.09 = 0.14; / 2 = 0.07
    expect(s.std).toBeCloseTo(Math.sqrt(0.07), 12);
    expect([s.min, s.max, s.n]).toEqual([0.1, 0.6, 3]);
    expect(spread([5])).toEqual({ mean: 5, std: 0, min: 5, max: 5, n: 1 });
    expect(spread([NaN, 2, 4]).mean).toBe(3);
    expect(spread([]).n).toBe(0);
  });

  it('summarises every metric over seeds', () => {
    const s = summarise([{ chair_s: 0.5, cover: 1 }, { chair_s: 0.3, cover: 0.5 }]);
    expect(s.chair_s.mean).toBeCloseTo(0.4, 12);
    expect(s.cover.min).toBe(0.5);
  });
});

describe('results table', () => {
  const arm = (name: string, values: Record<string, number[]>): Pick<ArmResult, 'name' | 'summary'> => ({
    name,
    summary: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, spread(v)])),
  });

  it('one row per metric, one column per arm, percentages and nats, mean ± std', () => {
    const table = resultsTable(
      [arm('base', { chair_s: [0.4], reliance: [0.5] }), arm('dpo', { chair_s: [0.2, 0.3], reliance: [1, 2] })],
      METRICS.filter((m) => m.key === 'chair_s' || m.key === 'reliance'),
    );
    expect(table).toBe(
      ['| metric | base | dpo |', '|---|---:|---:|', '| CHAIR_s ↓ | 40.0 | 25.0 ± 7.1 |', '| image reliance (nats) ↑ | 0.50 | 1.50 ± 0.71 |', ''].join('\n'),
    );
  });

  it("has one row for CHAIR_s and none for AMBER's Hal (the same quantity)", () => {
    expect(METRICS.map((m) => m.label)).toContain('CHAIR_s');
    expect(METRICS.map((m) => m.label)).not.toContain('Hal');
  });

  it('a missing or NaN metric is a dash', () => {
    const table = resultsTable([arm('x', { cover: [NaN] })], METRICS.filter((m) => m.key === 'cover' || m.key === 'cog'));
    expect(table).toContain('| Cover ↑ | – |');
    expect(table).toContain('| Cog ↓ | – |');
    expect(formatSpread({ percent: true }, { mean: null, std: null, n: 0 })).toBe('–');
  });

  it('the training table lists trained arms only', () => {
    const a = (name: string, variant: string, loss: number): ArmResult => ({
      name,
      variant,
      negative: null,
      description: '',
      seeds: [{ seed: 1, metrics: {}, trainSeconds: 1, evalSeconds: 1, steps: 3, final: { loss } }],
      summary: {},
      curves: {},
    });
    const t = trainingTable([a('base', 'base', 0), a('dpo', 'dpo', 0.5)]);
    expect(t.split('\n')[0]).toBe('| last-step training metric | dpo |');
    expect(t).toContain('| loss | 0.500 |');
    expect(t).toContain('| loss/conditional | – |');
  });
});

describe('evaluationRows', () => {
  it('maps metrics onto the store rows, POPE per setting, and the base reliance as "before"', () => {
    const rows = evaluationRows({ chair_s: 0.25, pope_adversarial_f1: 0.7, reliance: 1.5 }, { reliance: 0.2 });
    expect(rows).toEqual([
      { metric: 'CHAIR_s', setting: '', value: 0.25 },
      { metric: 'POPE/f1', setting: 'adversarial', value: 0.7 },
      { metric: 'image_reliance', setting: '', value: 1.5 },
      { metric: 'image_reliance', setting: 'before (base)', value: 0.2 },
    ]);
  });
});

describe('mechanism metrics (issue 20)', () => {
  const evaluation = (perception: WorldEvaluation['perception'], typical: WorldEvaluation['themeTypical']): WorldEvaluation => ({
    scenes: 1,
    description: { answers: 1, chairS: 0, chairI: 0, cover: 1, cog: 0, unparsedShare: 0, mentions: 1, hallucinatedMentions: 0, truthObjects: 1, coveredObjects: 1, baitObjects: 0, baitMentioned: 0 },
    pope: Object.fromEntries(['random', 'popular', 'adversarial'].map((s) => [s, { questions: 0, accuracy: 1, precision: 1, recall: 1, f1: 1, yesRatio: 0.5 }])) as WorldEvaluation['pope'],
    themeTypicalHallucinationShare: Number.isNaN(typical.share) ? 0 : typical.share,
    themeTypical: typical,
    perception,
    descriptions: [],
    popeAnswers: [],
  });
  const reliance = { pairs: 0, mean: NaN, std: NaN, positiveShare: NaN };
  const perception = { objects: 4, colorCorrect: 4, shapeCorrect: 2, bothCorrect: 2, colorAccuracy: 1, shapeAccuracy: 0.5, objectAccuracy: 0.5, byObjectCount: {}, colorConfusions: [], shapeConfusions: [] };

  it('carries perception and the theme-typical share with its chance level into the metrics, the table and the store rows', () => {
    const m = metricsOf(evaluation(perception, { hallucinatedMentions: 4, typicalMentions: 3, share: 0.75, chance: 0.125 }), reliance);
    expect(m).toMatchObject({ perception_object: 0.5, perception_color: 1, perception_shape: 0.5, theme_typical: 0.75, theme_typical_chance: 0.125 });
    const table = resultsTable([{ name: 'base', summary: summarise([m]) }]);
    expect(table).toContain('| per-object perception: color and shape ↑ | 50.0 |');
    expect(table).toContain('| theme-typical share of hallucinated mentions | 75.0 |');
    expect(table).toContain('| theme-typical share at chance | 12.5 |');
    expect(evaluationRows(m)).toEqual(
      expect.arrayContaining([
        { metric: 'perception', setting: 'object', value: 0.5 },
        { metric: 'perception', setting: 'shape', value: 0.5 },
        { metric: 'theme_typical_share', setting: '', value: 0.75 },
        { metric: 'theme_typical_share', setting: 'chance', value: 0.125 },
      ]),
    );
  });

  it('no probe and no hallucination give dashes, not zeros', () => {
    const m = metricsOf(evaluation(null, { hallucinatedMentions: 0, typicalMentions: 0, share: NaN, chance: NaN }), reliance);
    expect(m.perception_object).toBeNaN();
    expect(m.theme_typical).toBeNaN();
    const table = resultsTable([{ name: 'base', summary: summarise([m]) }]);
    expect(table).toContain('| per-object perception: shape ↑ | – |');
    expect(table).toContain('| theme-typical share of hallucinated mentions | – |');
    expect(evaluationRows(m).map((r) => r.metric)).not.toContain('perception');
  });
});

describe('mDPO/DPO ratios', () => {
  const arm = (name: string, chairS: number, chairI: number, cover: number) => ({
    name,
    summary: Object.fromEntries(
      Object.entries({ chair_s: chairS, chair_i: chairI, cover }).map(([k, mean]) => [k, { mean, std: 0, min: mean, max: mean, n: 1 }]),
    ),
  });

  it('divides the means, and says the paper\'s ratios beside them', () => {
    const arms = [arm('base', 0.6, 0.4, 0.5), arm('dpo', 0.5, 0.4, 0.3), arm('mdpo', 0.4, 0.3, 0.45)];
    const r = mdpoDpoRatios(arms)!;
    expect(r.chair_s).toBeCloseTo(0.8, 12);
    expect(r.chair_i).toBeCloseTo(0.75, 12);
    expect(r.cover).toBeCloseTo(1.5, 12);
    expect(ratiosLine(arms)).toContain('CHAIR_s 0.80, CHAIR_i 0.75, Cover 1.50');
    expect(ratiosLine(arms)).toContain('CHAIR_s 0.61, CHAIR_i 0.61, Cover 0.91');
  });

  it('is absent without both arms', () => {
    expect(mdpoDpoRatios([arm('dpo', 0.5, 0.4, 0.3)])).toBeNull();
    expect(ratiosLine([arm('mdpo', 0.5, 0.4, 0.3)])).toBe('');
  });
});
