/**
 * State of the Inspect screen's "Your data" mode: evaluation sets, the models that can answer,
 * answer jobs (live progress from answers:progress events), and the page of items for the two
 * models shown, with human judgments saved at once (every change reloads the tallies).
 */
import type { AnswerJob, ApiEvent, EvalSetSummary, InspectItem, InspectPage, Verdict } from '../../../shared/api';
import { errorMessage, getApi } from './api';

export interface ModelChoice {
  key: string;
  label: string;
  kind: 'base' | 'run';
  runId: number;
}

export const VERDICT_KEYS: Record<string, Verdict> = { '1': 'a', '2': 'b', '3': 'tie', '4': 'both-wrong' };
export const VERDICT_LABELS: Record<Verdict, string> = { a: 'A better', b: 'B better', tie: 'Tie', 'both-wrong': 'Both wrong' };

/** Character offsets of the current selection inside `root` (null unless it lies wholly inside). */
export function selectionOffsets(root: HTMLElement, selection: Selection | null): { start: number; end: number } | null {
  if (!selection || selection.rangeCount === 0 || selection.isCollapsed) return null;
  const range = selection.getRangeAt(0);
  if (!root.contains(range.startContainer) || !root.contains(range.endContainer)) return null;
  const before = document.createRange();
  before.selectNodeContents(root);
  before.setEnd(range.startContainer, range.startOffset);
  const start = before.toString().length;
  const end = start + range.toString().length;
  return end > start ? { start, end } : null;
}

export class ProbeInspectState {
  sets = $state.raw<EvalSetSummary[]>([]);
  models = $state.raw<ModelChoice[]>([]);
  setId = $state<number | null>(null);
  modelA = $state<string | null>(null);
  modelB = $state<string | null>(null);
  page = $state.raw<InspectPage | null>(null);
  jobs = $state.raw<AnswerJob[]>([]);
  index = $state(0);
  error = $state<string | null>(null);
  notice = $state<string | null>(null);
  busy = $state(false);

  current = $derived<InspectItem | null>(this.page?.items[Math.min(this.index, (this.page?.items.length ?? 1) - 1)] ?? null);
  running = $derived(this.jobs.some((j) => j.status === 'queued' || j.status === 'running'));

  private async guard<T>(fn: () => Promise<T>): Promise<T | undefined> {
    this.error = null;
    try {
      return await fn();
    } catch (e) {
      this.error = errorMessage(e);
      return undefined;
    }
  }

  async init(): Promise<void> {
    await this.guard(async () => {
      const api = getApi();
      const [sets, models] = await Promise.all([api.evalsets.list(), api.answers.models()]);
      this.sets = sets;
      this.models = models;
      this.setId ??= sets[sets.length - 1]?.id ?? null;
      const runs = models.filter((m) => m.kind === 'run');
      this.modelA ??= runs[0]?.key ?? models[0]?.key ?? null;
      this.modelB ??= runs[1]?.key ?? models.find((m) => m.key !== this.modelA)?.key ?? null;
    });
    await this.refresh();
  }

  /** Live job progress; a job that ends reloads the page. */
  onEvent(event: ApiEvent): void {
    if (event.type !== 'answers:progress' || event.setId !== this.setId) return;
    this.jobs = this.jobs.map((j) => (j.id === event.jobId ? { ...j, status: event.status, done: event.done, total: event.total, etaMs: event.etaMs, error: event.error } : j));
    if (event.status !== 'running' && event.status !== 'queued') void this.refresh();
  }

  async refresh(): Promise<void> {
    const { setId, modelA, modelB } = this;
    if (setId == null) {
      this.page = null;
      return;
    }
    await this.guard(async () => {
      const api = getApi();
      this.jobs = await api.answers.jobs({ setId });
      // The first 500 items (the API's page limit); the tallies and scores always cover the whole set.
      this.page = modelA && modelB ? await api.inspect.page({ setId, modelA, modelB, limit: 500 }) : null;
    });
  }

  async choose(next: { setId?: number | null; modelA?: string | null; modelB?: string | null }): Promise<void> {
    if (next.setId !== undefined) this.setId = next.setId;
    if (next.modelA !== undefined) this.modelA = next.modelA;
    if (next.modelB !== undefined) this.modelB = next.modelB;
    this.index = 0;
    await this.refresh();
  }

  async importSet(path: string): Promise<void> {
    this.busy = true;
    const set = await this.guard(() => getApi().evalsets.import({ path }));
    this.busy = false;
    if (!set) return;
    this.notice = `Imported "${set.name}": ${set.items} of ${set.counts.records} items valid (${set.kinds.yesno} yes/no, ${set.kinds.objects} object-annotated, ${set.kinds.none} plain)${set.counts.errors ? `, ${set.counts.errors} excluded: ${(set.report?.issues ?? []).filter((i) => i.severity === 'error').slice(0, 3).map((i) => i.message).join('; ')}` : ''}.`;
    this.sets = await getApi().evalsets.list();
    await this.choose({ setId: set.id });
  }

  /** The records a run held out of its dataset (config.holdOut) as an evaluation set. */
  async fromRun(runId: number): Promise<void> {
    const set = await this.guard(() => getApi().evalsets.fromRun({ runId }));
    if (!set) return;
    this.notice = `Evaluation set "${set.name}": ${set.items} held-out records of run ${runId}.`;
    this.sets = await getApi().evalsets.list();
    await this.choose({ setId: set.id });
  }

  async generate(settings: { maxTokens: number; temperature: number; seed: number }): Promise<void> {
    const { setId, modelA, modelB } = this;
    if (setId == null || !modelA || !modelB) return;
    const started = await this.guard(() => getApi().answers.start({ setId, models: modelA === modelB ? [modelA] : [modelA, modelB], ...settings }));
    if (started) await this.refresh();
  }

  async cancel(jobId: number): Promise<void> {
    await this.guard(() => getApi().answers.cancel({ jobId }));
    await this.refresh();
  }

  move(delta: number): void {
    const n = this.page?.items.length ?? 0;
    if (n === 0) return;
    this.index = Math.max(0, Math.min(n - 1, Math.min(this.index, n - 1) + delta));
  }

  async verdict(v: Verdict | null, note?: string): Promise<void> {
    const item = this.current;
    if (!item?.a || !item.b || this.setId == null) return;
    const setId = this.setId;
    const { a, b } = item;
    await this.guard(() => getApi().inspect.verdict({ setId, answerA: a.answerId, answerB: b.answerId, verdict: v, note: note ?? item.note }));
    await this.refresh();
  }

  async mark(answerId: number, start: number, end: number): Promise<void> {
    if (this.setId == null) return;
    const setId = this.setId;
    await this.guard(() => getApi().inspect.mark({ setId, answerId, start, end }));
    await this.refresh();
  }

  async unmark(markId: number): Promise<void> {
    if (this.setId == null) return;
    const setId = this.setId;
    await this.guard(() => getApi().inspect.unmark({ setId, markId }));
    await this.refresh();
  }

  async undo(): Promise<void> {
    if (this.setId == null) return;
    const setId = this.setId;
    const r = await this.guard(() => getApi().inspect.undo({ setId }));
    this.notice = r ? (r.undone ? `Undid the last ${r.undone === 'verdict' ? 'verdict' : r.undone === 'mark-add' ? 'mark' : 'unmark'}.` : 'Nothing to undo.') : this.notice;
    await this.refresh();
  }

  async exportPairs(dir: string, importBack: boolean): Promise<void> {
    const { setId, modelA, modelB } = this;
    if (setId == null || !modelA || !modelB) return;
    const r = await this.guard(() => getApi().inspect.exportPairs({ setId, modelA, modelB, dir, import: importBack }));
    if (r) this.notice = `Wrote ${r.pairs} pairs to ${r.path}${r.datasetId ? `; imported as dataset ${r.datasetId}` : ''} (${r.skipped} items without a preference skipped).`;
  }

  async exportJudgments(path: string, format: 'csv' | 'jsonl'): Promise<void> {
    const { setId, modelA, modelB } = this;
    if (setId == null || !modelA || !modelB) return;
    const r = await this.guard(() => getApi().inspect.exportJudgments({ setId, modelA, modelB, path, format }));
    if (r) this.notice = `Wrote ${r.rows} judged items to ${r.path}.`;
  }

  async report(path: string): Promise<void> {
    const { setId, modelA, modelB } = this;
    if (setId == null || !modelA || !modelB) return;
    const r = await this.guard(() => getApi().inspect.report({ setId, modelA, modelB, path }));
    if (r) this.notice = `Wrote the report (${r.items} items) to ${r.path}.`;
  }
}
