/**
 * One run's detail, metric series and progress, kept current from live events with an
 * incremental poll (runs:metrics afterStep) as the safety net. Series are replaced, never
 * mutated ($state.raw), so charts redraw once per batch.
 */
import type { ApiEvent, RunDetail, RunProgress } from '../../../shared/api';
import { errorMessage, getApi } from './api';
import { appendPoints, mergeSeries, type SeriesMap } from './series';

const EMPTY: SeriesMap = mergeSeries(undefined, []);

export class RunData {
  detail = $state<RunDetail | null>(null);
  series = $state.raw<SeriesMap>(EMPTY);
  progress = $state<RunProgress | null>(null);
  error = $state<string | null>(null);
  /** Throughput from progress reports seen by this view (the store keeps no history of it). */
  throughput = $state.raw<{ steps: number[]; pairs: (number | null)[]; tokens: (number | null)[] }>({ steps: [], pairs: [], tokens: [] });

  constructor(readonly runId: number) {}

  get lastStep(): number {
    let last = -1;
    for (const s of this.series.values()) last = Math.max(last, s.steps[s.steps.length - 1] ?? -1);
    return last;
  }

  async load(): Promise<void> {
    try {
      const api = getApi();
      const [detail, metrics] = await Promise.all([api.runs.get({ runId: this.runId }), api.runs.metrics({ runId: this.runId })]);
      this.detail = detail;
      this.progress = detail.progress;
      this.series = mergeSeries(EMPTY, metrics.series);
      this.error = null;
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  /** Fetches what the events may have missed. */
  async poll(): Promise<void> {
    try {
      const api = getApi();
      const [detail, metrics] = await Promise.all([
        api.runs.get({ runId: this.runId }),
        api.runs.metrics({ runId: this.runId, afterStep: this.lastStep }),
      ]);
      this.detail = detail;
      if (detail.progress) {
        this.progress = detail.progress;
        this.recordThroughput(detail.progress);
      }
      if (metrics.series.some((s) => s.steps.length)) this.series = mergeSeries(this.series, metrics.series);
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  onEvent(event: ApiEvent): void {
    if (!('runId' in event) || event.runId !== this.runId) return;
    if (event.type === 'run:metrics') this.series = appendPoints(this.series, event.step, event.values);
    else if (event.type === 'run:progress') {
      const { type: _t, runId: _r, ...progress } = event;
      this.progress = progress;
      this.recordThroughput(progress);
      if (this.detail) this.detail = { ...this.detail, step: event.step, totalSteps: event.totalSteps };
    } else if (event.type === 'run:status') {
      if (this.detail) this.detail = { ...this.detail, status: event.status, error: event.error };
      void this.poll();
    }
  }

  private recordThroughput(p: RunProgress): void {
    const t = this.throughput;
    if (p.pairsPerSec == null || p.step <= (t.steps[t.steps.length - 1] ?? -1)) return;
    this.throughput = { steps: [...t.steps, p.step], pairs: [...t.pairs, p.pairsPerSec], tokens: [...t.tokens, p.tokensPerSec] };
  }
}
