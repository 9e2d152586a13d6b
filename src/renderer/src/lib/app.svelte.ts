/**
 * App-wide state: app info (backend, features), the dataset and run lists, and the one live
 * event subscription that every view listens to.
 */
import type { ApiEvent, AppInfo, DatasetSummary, RunSummary } from '../../../shared/api';
import { errorMessage, getApi } from './api';

export interface DemoProgress {
  stage: string;
  message: string;
  fraction: number | null;
  /** Set when the demo has ended. */
  finished: { state: 'done' | 'failed' | 'cancelled'; outDir: string; error: string | null } | null;
}

export interface EvaluationState {
  state: 'running' | 'done' | 'failed';
  done: number;
  total: number;
  error: string | null;
}

export class AppState {
  info = $state<AppInfo | null>(null);
  error = $state<string | null>(null);
  loaded = $state(false);
  datasets = $state.raw<DatasetSummary[]>([]);
  runs = $state.raw<RunSummary[]>([]);
  demo = $state<DemoProgress | null>(null);
  /** Evaluations started or seen in this session, by run id (from run:evaluation events). */
  evaluations = $state<Record<number, EvaluationState>>({});
  /** False when the live event stream could not be opened (views then poll). */
  live = $state(true);

  private listeners: ((event: ApiEvent) => void)[] = [];
  private unsubscribe: (() => void) | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  async load(): Promise<void> {
    const api = getApi();
    // Listen before the first fetch: an import or a run that changes state between the fetch
    // and the subscription would otherwise never reach the page (its event would be missed).
    this.connect();
    try {
      this.info = await api.app.info();
      await Promise.all([this.refreshDatasets(), this.refreshRuns()]);
    } catch (e) {
      this.error = errorMessage(e);
    }
    this.loaded = true;
  }

  connect(): void {
    if (this.unsubscribe) return;
    try {
      this.unsubscribe = getApi().events.subscribe((event) => this.dispatch(event));
    } catch {
      this.live = false;
    }
  }

  dispose(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Views listen to live events; returns the unsubscribe function. */
  on(listener: (event: ApiEvent) => void): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  dispatch(event: ApiEvent): void {
    if (event.type === 'run:status' || event.type === 'run:checkpoint') this.scheduleRunsRefresh();
    else if (event.type === 'run:progress') {
      this.runs = this.runs.map((r) => (r.id === event.runId ? { ...r, step: event.step, totalSteps: event.totalSteps } : r));
    } else if (event.type === 'dataset:imported') void this.refreshDatasets();
    else if (event.type === 'run:evaluation') {
      const error = event.error ? `${event.error.name}: ${event.error.message}` : null;
      this.evaluations = { ...this.evaluations, [event.runId]: { state: event.state, done: event.done, total: event.total, error } };
    } else if (event.type === 'demo:progress') {
      this.demo = { stage: event.stage, message: event.message, fraction: event.fraction, finished: null };
      this.scheduleRunsRefresh();
    } else if (event.type === 'demo:finished') {
      const error = event.error ? `${event.error.name}: ${event.error.message}` : null;
      this.demo = { stage: event.state, message: this.demo?.message ?? '', fraction: null, finished: { state: event.state, outDir: event.outDir, error } };
      this.scheduleRunsRefresh();
    }
    for (const listener of this.listeners) listener(event);
  }

  /** Starts runs:evaluate for each run (same held-out scenes and seed, so answers pair up). */
  async evaluate(runIds: number[], scenes: number, seed = 0): Promise<void> {
    const api = getApi();
    for (const runId of runIds) {
      this.evaluations = { ...this.evaluations, [runId]: { state: 'running', done: 0, total: scenes, error: null } };
      try {
        await api.runs.evaluate({ runId, scenes, seed });
      } catch (e) {
        this.evaluations = { ...this.evaluations, [runId]: { state: 'failed', done: 0, total: scenes, error: errorMessage(e) } };
      }
    }
  }

  /** Starts the built-in demo in the background; progress arrives as demo:progress events. */
  async startDemo(preset: 'quick' | 'full'): Promise<void> {
    const started = await getApi().demo.start({ preset });
    this.demo = { stage: 'starting', message: `Results will be written to ${started.outDir}`, fraction: 0, finished: null };
    await Promise.all([this.refreshDatasets(), this.refreshRuns()]);
  }

  async cancelDemo(): Promise<void> {
    await getApi().demo.cancel();
  }

  // Refreshes overlap (the first load and an event's refresh): only the newest request's answer
  // is applied, so an older, slower list never overwrites a newer one.
  private datasetsAsked = 0;
  private runsAsked = 0;

  async refreshDatasets(): Promise<void> {
    const ask = ++this.datasetsAsked;
    const list = await getApi().datasets.list();
    if (ask === this.datasetsAsked) this.datasets = list;
  }

  async refreshRuns(): Promise<void> {
    const ask = ++this.runsAsked;
    const list = await getApi().runs.list();
    if (ask === this.runsAsked) this.runs = list;
  }

  private scheduleRunsRefresh(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refreshRuns().catch(() => {});
    }, 200);
  }

  run(id: number | null): RunSummary | undefined {
    return this.runs.find((r) => r.id === id);
  }

  /** The other run of a matched pair. */
  partner(run: RunSummary): RunSummary | undefined {
    return run.pairId ? this.runs.find((r) => r.pairId === run.pairId && r.id !== run.id) : undefined;
  }
}
