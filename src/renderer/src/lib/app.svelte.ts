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
}

export class AppState {
  info = $state<AppInfo | null>(null);
  error = $state<string | null>(null);
  loaded = $state(false);
  datasets = $state.raw<DatasetSummary[]>([]);
  runs = $state.raw<RunSummary[]>([]);
  demo = $state<DemoProgress | null>(null);
  /** False when the live event stream could not be opened (views then poll). */
  live = $state(true);

  private listeners: ((event: ApiEvent) => void)[] = [];
  private unsubscribe: (() => void) | null = null;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;

  async load(): Promise<void> {
    const api = getApi();
    try {
      this.info = await api.app.info();
      await Promise.all([this.refreshDatasets(), this.refreshRuns()]);
    } catch (e) {
      this.error = errorMessage(e);
    }
    this.loaded = true;
    this.connect();
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
    else if (event.type === 'demo:progress') this.demo = { stage: event.stage, message: event.message, fraction: event.fraction };
    for (const listener of this.listeners) listener(event);
  }

  async refreshDatasets(): Promise<void> {
    this.datasets = await getApi().datasets.list();
  }

  async refreshRuns(): Promise<void> {
    this.runs = await getApi().runs.list();
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
