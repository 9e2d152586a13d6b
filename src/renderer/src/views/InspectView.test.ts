import { flushSync, mount, tick, unmount } from 'svelte';
import { afterEach, expect, it, vi } from 'vitest';
import type { Api, EvaluationRow, OutputRow, RunSummary } from '../../../shared/api';
import { AppState } from '../lib/app.svelte';
import { setApi } from '../lib/api';
import InspectView from './InspectView.svelte';

function run(id: number, variant: string): RunSummary {
  return {
    id, name: `${variant} run`, datasetId: 1, variant, status: 'completed', backend: 'wasm', pairId: 'p1', step: 10, totalSteps: 10,
    createdAt: '', startedAt: null, finishedAt: null, lastCheckpointStep: 10, latest: {}, error: null,
  };
}

const Q = 'Describe the image.';
function out(id: number, runId: number, image: string, answer: string, hallucinated: string[]): OutputRow {
  const marks = hallucinated.map((object) => {
    const start = answer.indexOf(object);
    return { object, start, end: start + object.length, kind: 'hallucinated' as const };
  });
  const correct = { object: 'red circle', start: answer.indexOf('red circle'), end: answer.indexOf('red circle') + 10, kind: 'correct' as const };
  return { id, runId, image, question: Q, answer, objects: [], marks: correct.start >= 0 ? [correct, ...marks] : marks };
}

const outputs: Record<number, OutputRow[]> = {
  1: [
    out(1, 1, 'scene-1', 'a red circle and a blue square.', ['blue square']),
    out(2, 1, 'scene-2', 'a red circle.', []),
    out(3, 1, 'scene-3', 'a green cross.', []),
  ],
  2: [
    out(11, 2, 'scene-1', 'a red circle.', []),
    out(12, 2, 'scene-2', 'a red circle.', []),
    out(13, 2, 'scene-3', 'a green cross and a red circle.', []),
  ],
};
const evals: Record<number, EvaluationRow[]> = {
  1: [{ metric: 'CHAIR_s', setting: '', value: 0.4 }, { metric: 'POPE/f1', setting: 'adversarial', value: 0.7 }],
  2: [{ metric: 'CHAIR_s', setting: '', value: 0.2 }, { metric: 'POPE/f1', setting: 'adversarial', value: 0.8 }],
};

const fake = {
  runs: {
    outputs: vi.fn(async ({ runId }: { runId: number }) => ({ items: outputs[runId] ?? [], total: outputs[runId]?.length ?? 0, offset: 0 })),
    evaluations: vi.fn(async ({ runId }: { runId: number }) => evals[runId] ?? []),
    ask: vi.fn(),
  },
  images: { get: vi.fn(async () => ({ dataUrl: 'data:image/png;base64,', width: 1, height: 1 })) },
  events: { subscribe: () => () => {} },
} as unknown as Api;

let component: ReturnType<typeof mount> | null = null;
afterEach(() => {
  if (component) unmount(component);
  component = null;
  setApi(null);
  document.body.innerHTML = '';
});

async function settle() {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 0));
    await tick();
  }
  flushSync();
}

async function render() {
  setApi(fake);
  const app = new AppState();
  app.runs = [run(1, 'dpo'), run(2, 'mdpo')];
  const target = document.createElement('div');
  document.body.appendChild(target);
  component = mount(InspectView, { target, props: { app, go: () => {}, a: 1, b: 2 } });
  await settle();
  return target;
}

const items = (t: HTMLElement) => [...t.querySelectorAll('[data-testid="pair-list"] li')];
const side = (t: HTMLElement, s: 'a' | 'b') => t.querySelector(`[data-side="${s}"] [data-testid="answer"]`)!;

it('shows both answers side by side with hallucinated and correct objects marked', async () => {
  const t = await render();
  expect(items(t)).toHaveLength(3);
  expect(side(t, 'a').textContent).toContain('a red circle and a blue square.');
  expect(side(t, 'b').textContent).toContain('a red circle.');
  expect([...side(t, 'a').querySelectorAll('mark')].map((m) => `${m.textContent}:${m.getAttribute('data-kind')}`)).toEqual([
    'red circle:correct',
    'blue square:hallucinated',
  ]);
  const table = t.querySelector('[data-testid="eval-table"]')!;
  expect(table.textContent).toContain('CHAIR_s');
  expect(table.textContent).toContain('0.4');
  expect(table.textContent).toContain('0.2');
});

it('filters to disagreements and to hallucinations', async () => {
  const t = await render();
  const box = (label: RegExp) => [...t.querySelectorAll('label')].find((l) => label.test(l.textContent ?? ''))!.querySelector('input')!;
  box(/only disagreements/).click();
  flushSync();
  expect(items(t)).toHaveLength(2); // scene-2 answers are identical
  box(/only hallucinations/).click();
  flushSync();
  expect(items(t)).toHaveLength(1);
  expect(side(t, 'a').textContent).toContain('blue square');
});

it('moves through the pairs with j/k and the arrow keys', async () => {
  const t = await render();
  const current = () => t.querySelector('[data-testid="pair-list"] li.current');
  expect(items(t).indexOf(current()!)).toBe(0);
  window.dispatchEvent(new KeyboardEvent('keydown', { key: 'j' }));
  flushSync();
  expect(items(t).indexOf(current()!)).toBe(1);
  window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown' }));
  window.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown' }));
  flushSync();
  expect(items(t).indexOf(current()!)).toBe(2);
  window.dispatchEvent(new KeyboardEvent('keydown', { key: 'k' }));
  flushSync();
  expect(items(t).indexOf(current()!)).toBe(1);
  expect(side(t, 'b').textContent).toContain('a red circle.');
});
