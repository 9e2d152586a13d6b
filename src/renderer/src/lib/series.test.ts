import { describe, expect, it } from 'vitest';
import { parseHash, href } from './route';
import { appendPoints, mergeSeries } from './series';

describe('metric series', () => {
  it('appends live points once per step and never goes backwards', () => {
    let s = appendPoints(new Map(), 1, { loss: 0.7, 'loss/dpo': 0.69 });
    s = appendPoints(s, 2, { loss: 0.6, 'loss/dpo': null });
    s = appendPoints(s, 2, { loss: 99 }); // duplicate step (event after a poll)
    expect(s.get('loss')).toEqual({ name: 'loss', steps: [1, 2], values: [0.7, 0.6] });
    expect(s.get('loss/dpo')!.values).toEqual([0.69, null]);
  });

  it('merges polled pages after what is already there', () => {
    const live = appendPoints(new Map(), 3, { loss: 0.5 });
    const merged = mergeSeries(live, [{ name: 'loss', steps: [2, 3, 4], values: [0.6, 0.5, 0.4] }]);
    expect(merged.get('loss')).toEqual({ name: 'loss', steps: [3, 4], values: [0.5, 0.4] });
    expect(live.get('loss')!.steps).toEqual([3]); // the old map is not mutated
  });
});

describe('routes', () => {
  it('round-trips views, ids and queries', () => {
    expect(parseHash(href('run', 7))).toMatchObject({ view: 'run', id: 7 });
    const r = parseHash(href('inspect', null, { a: 1, b: 2 }));
    expect([r.view, r.query.get('a'), r.query.get('b')]).toEqual(['inspect', '1', '2']);
    expect(parseHash('#/nonsense').view).toBe('home');
    expect(parseHash('').view).toBe('home');
  });
});
