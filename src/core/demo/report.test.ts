import { describe, expect, it } from 'vitest';
import { renderReport } from './report';
import { METRICS, RESULTS_FORMAT, parseResults, spread, type StudyResults } from './results';

function results(): StudyResults {
  const arm = (name: string, variant: string, chair: number, loss: number[]) => ({
    name,
    variant,
    negative: null,
    description: `${name} arm`,
    seeds: [{ seed: 1, metrics: { chair_s: chair }, trainSeconds: 1, evalSeconds: 1, steps: loss.length, final: { loss: loss[loss.length - 1] ?? 0 } }],
    summary: { chair_s: spread([chair]) },
    curves: loss.length ? { loss: { steps: loss.map((_, i) => i + 1), values: loss }, 'loss/dpo': { steps: [1, 2], values: [0.7, 0.6] } } : {},
  });
  return parseResults({
    format: RESULTS_FORMAT,
    kind: 'demo',
    createdAt: '2026-01-01T00:00:00.000Z',
    command: 'npm run demo',
    machine: { cpu: 'Test CPU', cores: 2, backend: 'wasm', node: 'v20' },
    wallSeconds: 120,
    settings: { baseDir: 'resources/base-model', seeds: [1] },
    dataset: { dir: 'dataset', questions: 10, pairs: 8, dropped: 2, chosenHallucinations: 1, rejectedHallucinations: 9, heldOutPairs: 4, evalScenes: 4 },
    metrics: METRICS.map((d) => ({ key: d.key, label: d.label, better: d.better, percent: d.percent })),
    arms: [arm('base', 'base', 0.5, []), arm('dpo', 'dpo', 0.4, [2, 1.5]), arm('mdpo', 'mdpo', 0.2, [2.1, 1.2])],
    samples: [
      {
        sceneId: 'eval-0',
        imagePath: 'eval-scenes/images/eval-0.png',
        question: 'Describe the image.',
        truth: ['red circle'],
        answers: {
          mdpo: { answer: 'a red circle.', marks: [{ object: 'red circle', start: 2, end: 12, kind: 'correct' }] },
          dpo: { answer: 'a red circle and a blue bar.', marks: [{ object: 'red circle', start: 2, end: 12, kind: 'correct' }, { object: 'blue bar', start: 19, end: 27, kind: 'hallucinated' }] },
        },
      },
    ],
    notes: ['a <note>'],
  });
}

describe('renderReport', () => {
  const html = renderReport(results(), new Map([['eval-0', 'data:image/png;base64,AAAA']]));

  it('is one self-contained page', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|(src|href)="https?:/);
    expect(html).toContain('src="data:image/png;base64,AAAA"');
    expect(html).toContain('a &lt;note&gt;');
  });

  it('shows DPO and mDPO answers side by side with hallucinations marked', () => {
    const card = html.slice(html.indexOf('data-scene="eval-0"'));
    expect(card).toContain('<dt>DPO</dt><dd data-arm="dpo">a <mark class="ok" title="red circle: in the image">red circle</mark> and a <mark class="hal" title="blue bar: not in the image">blue bar</mark>.</dd>');
    expect(card).toContain('<dt>mDPO</dt><dd data-arm="mdpo">a <mark class="ok" title="red circle: in the image">red circle</mark>.</dd>');
    expect(card.indexOf('data-arm="dpo"')).toBeLessThan(card.indexOf('data-arm="mdpo"'));
  });

  it('draws a curve per loss term for both runs and bolds the best arm', () => {
    expect(html).toContain('aria-label="loss (total)"');
    expect(html).toContain('aria-label="loss/dpo (z1)"');
    expect((html.match(/<polyline/g) ?? []).length).toBe(4); // loss and loss/dpo, for dpo and mdpo
    expect(html).toContain('<td class="num best">20.0</td>'); // CHAIR_s: mdpo is lowest
  });

  it('has a row for each mechanism measure and says what they measure', () => {
    for (const label of ['per-object perception: color and shape', 'theme-typical share of hallucinated mentions', 'theme-typical share at chance']) expect(html).toContain(`<td>${label}<span`);
    expect(html).toContain('data-testid="mechanism-note"');
    expect(html).toContain('held-out single-object scenes');
  });

  it('gives the mDPO/DPO ratios of the means beside the paper\'s', () => {
    expect(html).toMatch(/<p data-testid="ratios">mDPO\/DPO \(ratio of the means\): CHAIR_s [0-9.]+, CHAIR_i [0-9.–]+, Cover [0-9.–]+ \(the paper, Bunny-3B, Table 1: CHAIR_s 0\.61, CHAIR_i 0\.61, Cover 0\.91\)\.<\/p>/);
  });
});
