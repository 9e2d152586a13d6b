/**
 * AppState's first load against a fake API: an event that arrives while the first lists are in
 * flight must reach the page (the CI failure of e2e-help-links: a dataset imported between the
 * first fetch and the subscription never showed), and a slower, older list must not overwrite a
 * newer one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Api, ApiEvent, DatasetSummary } from '../../../shared/api';
import { setApi } from './api';
import { AppState } from './app.svelte';

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const dataset = (id: number) => ({ id, name: `d${id}` }) as unknown as DatasetSummary;

afterEach(() => setApi(null));

describe('AppState.load', () => {
  it('subscribes before the first fetch and keeps the newest dataset list', async () => {
    const order: string[] = [];
    let emit: ((e: ApiEvent) => void) | null = null;
    const lists = [deferred<DatasetSummary[]>(), deferred<DatasetSummary[]>()];
    let calls = 0;
    const fake = {
      app: { info: async () => { order.push('info'); return { features: {} }; } },
      datasets: { list: () => { order.push('datasets.list'); return lists[calls++]!.promise; } },
      runs: { list: async () => [] },
      events: { subscribe: (l: (e: ApiEvent) => void) => { order.push('subscribe'); emit = l; return () => {}; } },
    } as unknown as Api;
    setApi(fake);
    const app = new AppState();
    const loading = app.load();
    expect(order[0]).toBe('subscribe');
    await new Promise((r) => setTimeout(r, 0));
    expect(calls).toBe(1); // the first list is in flight
    // A dataset is imported now: its event triggers a second list, which answers first.
    emit!({ type: 'dataset:imported', datasetId: 7 } as unknown as ApiEvent);
    expect(calls).toBe(2);
    lists[1]!.resolve([dataset(7)]);
    await new Promise((r) => setTimeout(r, 0));
    expect(app.datasets.map((d) => d.id)).toEqual([7]);
    // The first, older list (taken before the import) answers last and is dropped.
    lists[0]!.resolve([]);
    await loading;
    expect(app.loaded).toBe(true);
    expect(app.datasets.map((d) => d.id)).toEqual([7]);
  });

  it('drops a list answered after a newer one', async () => {
    const lists = [deferred<DatasetSummary[]>(), deferred<DatasetSummary[]>()];
    let calls = 0;
    setApi({ datasets: { list: () => lists[calls++]!.promise } } as unknown as Api);
    const app = new AppState();
    const first = app.refreshDatasets();
    const second = app.refreshDatasets();
    lists[1]!.resolve([dataset(2)]);
    await second;
    lists[0]!.resolve([dataset(1)]);
    await first;
    expect(app.datasets.map((d) => d.id)).toEqual([2]);
  });
});
