/**
 * Hallucination inspection on the user's own data: evaluation sets (probe sets and runs'
 * held-out records), answer jobs, the Inspect page, human judgments, exports and the report.
 * The API handlers (../api/inspect-handlers.ts) and the CLI call this; errors are
 * InspectError with the offending input field.
 */
import { writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { splitHeldOut } from '../../core/data/holdout';
import { importProbeSet } from '../../core/data/probe-import';
import type { PreferenceRecord } from '../../core/data/types';
import type { ImageRef as CoreImageRef } from '../../core/data/types';
import type { EvalItem, EvalSetDetail, InspectItem, InspectPage, Verdict } from '../../shared/inspect';
import type { Store } from '../store';
import type { InspectStore } from '../store/inspect';
import type { AnswerJobs } from './answer-jobs';
import { exportPairs, judgmentsText } from './export';
import { autoScores, inspectItems, setTable, sideOf, tallies } from './view';

export class InspectError extends Error {
  override name = 'InspectError';
  constructor(
    message: string,
    readonly code: 'not_found' | 'conflict' | 'bad_request',
    readonly field?: string,
  ) {
    super(message);
  }
}

export interface InspectServiceDeps {
  store: Store;
  inspect: InspectStore;
  jobs: AnswerJobs;
  /** A dataset's valid records (DatasetService.records). */
  datasetRecords: (datasetId: number) => Promise<PreferenceRecord[]>;
  /** Imports a folder as a preference dataset (DatasetService.import); returns its id. */
  importDataset: (path: string, name: string) => Promise<number>;
}

export class InspectService {
  constructor(private readonly d: InspectServiceDeps) {}

  getSet(setId: number, field = 'setId'): EvalSetDetail {
    const s = this.d.inspect.getSet(setId);
    if (!s) throw new InspectError(`Evaluation set ${setId} does not exist.`, 'not_found', field);
    return s;
  }

  async importProbe(path: string, name?: string): Promise<EvalSetDetail> {
    const root = resolve(path);
    let result;
    try {
      result = await importProbeSet(root);
    } catch (e) {
      throw new InspectError(`Nothing to import at ${root}: ${(e as Error).message}`, 'bad_request', 'path');
    }
    const { items, report } = result;
    const s = report.summary;
    const id = this.d.inspect.insertSet({
      name: name ?? basename(root),
      kind: 'probe',
      sourcePath: root,
      format: report.format,
      counts: { records: s.records, errors: s.excluded, warnings: s.warnings },
      report: { root: report.root, format: report.format, files: report.files, excluded: report.excluded, issues: report.issues, createdAt: report.createdAt },
      items: items.map((it) => ({ index: it.index, key: it.id, image: it.image, question: it.question, truth: it.truth })),
    });
    return this.getSet(id);
  }

  /** The records a run held out (config.holdOut, seeded by config.seed) as an evaluation set. */
  async fromRun(runId: number): Promise<EvalSetDetail> {
    const run = this.d.store.getRun(runId);
    if (!run) throw new InspectError(`Run ${runId} does not exist.`, 'not_found', 'runId');
    const n = run.config.holdOut ?? 0;
    if (n === 0) throw new InspectError(`Run ${runId} holds out no records (its config.holdOut is 0); set "hold out N records" when creating a run.`, 'bad_request', 'runId');
    if (run.datasetId === null) throw new InspectError(`Run ${runId}'s dataset was deleted; its held-out records are gone.`, 'conflict', 'runId');
    const existing = this.d.inspect.listSets().find((s) => s.kind === 'holdout' && s.runId === runId);
    if (existing) return this.getSet(existing.id);
    const records = await this.d.datasetRecords(run.datasetId);
    const { heldOut } = splitHeldOut(records, n, run.config.seed);
    const id = this.d.inspect.insertSet({
      name: `held out by ${run.name}`,
      kind: 'holdout',
      sourcePath: `run:${runId}`,
      format: null,
      runId,
      counts: { records: heldOut.length, errors: 0, warnings: 0 },
      report: null,
      items: heldOut.map((r, index) => ({ index, key: r.id, image: r.image, question: r.prompt, truth: null, reference: { chosen: r.chosen, rejected: r.rejected } })),
    });
    return this.getSet(id);
  }

  deleteSet(setId: number): void {
    this.getSet(setId);
    const live = this.d.inspect.listJobs(setId).find((j) => j.status === 'queued' || j.status === 'running');
    if (live) throw new InspectError(`Evaluation set ${setId} has a running answer job (${live.id}); cancel it first.`, 'conflict', 'setId');
    this.d.inspect.deleteSet(setId);
  }

  private everything(setId: number, modelA: string, modelB: string): { items: (EvalItem & { imageRef: CoreImageRef })[]; all: (InspectItem & { imageRef: CoreImageRef })[] } {
    this.getSet(setId);
    const items = this.d.inspect.items(setId);
    const a = sideOf(this.d.inspect, setId, modelA);
    const b = sideOf(this.d.inspect, setId, modelB);
    const shown = inspectItems(items, a, b, this.d.inspect, setId, setTable(items));
    return { items, all: shown.map((s, k) => ({ ...s, imageRef: items[k]!.imageRef })) };
  }

  page(setId: number, modelA: string, modelB: string, offset: number, limit: number): InspectPage {
    this.getSet(setId);
    const items = this.d.inspect.items(setId);
    const table = setTable(items);
    const a = sideOf(this.d.inspect, setId, modelA);
    const b = sideOf(this.d.inspect, setId, modelB);
    const window = items.slice(offset, offset + limit);
    return {
      setId,
      modelA,
      modelB,
      items: inspectItems(window, a, b, this.d.inspect, setId, table),
      total: items.length,
      offset,
      tallies: tallies(items, a, b, this.d.inspect, setId),
      scores: [autoScores(items, a, table), autoScores(items, b, table)],
    };
  }

  private answerOf(setId: number, answerId: number, field: string): { text: string; itemId: number } {
    const a = this.d.inspect.getAnswer(answerId);
    if (!a || a.setId !== setId) throw new InspectError(`Answer ${answerId} is not an answer of evaluation set ${setId}.`, 'not_found', field);
    return a;
  }

  mark(setId: number, answerId: number, start: number, end: number): number | null {
    this.getSet(setId);
    const a = this.answerOf(setId, answerId, 'answerId');
    if (end > a.text.length) throw new InspectError(`The span ${start}..${end} runs past the answer's ${a.text.length} characters.`, 'bad_request', 'end');
    if (a.text.slice(start, end).trim() === '') throw new InspectError('The span holds only white space; select words to mark.', 'bad_request', 'start');
    if (!this.d.inspect.addMark(setId, answerId, start, end)) return null;
    return this.d.inspect.marks([answerId]).get(answerId)!.find((m) => m.start === start && m.end === end)!.id;
  }

  unmark(setId: number, markId: number): boolean {
    this.getSet(setId);
    return this.d.inspect.removeMark(setId, markId);
  }

  verdict(setId: number, answerA: number, answerB: number, verdict: Verdict | null, note: string): void {
    this.getSet(setId);
    const a = this.answerOf(setId, answerA, 'answerA');
    const b = this.answerOf(setId, answerB, 'answerB');
    if (a.itemId !== b.itemId) throw new InspectError(`Answers ${answerA} and ${answerB} answer different items; a verdict compares two answers to the same item.`, 'bad_request', 'answerB');
    if (answerA === answerB) throw new InspectError('A verdict needs two different answers.', 'bad_request', 'answerB');
    this.d.inspect.setVerdict(setId, answerA, answerB, { verdict, note });
  }

  undo(setId: number): 'verdict' | 'mark-add' | 'mark-remove' | null {
    this.getSet(setId);
    return this.d.inspect.undo(setId)?.op ?? null;
  }

  async exportPairs(setId: number, modelA: string, modelB: string, dir: string, importBack: boolean): Promise<{ path: string; pairs: number; skipped: number; datasetId: number | null }> {
    const { all } = this.everything(setId, modelA, modelB);
    let out;
    try {
      out = await exportPairs(resolve(dir), all);
    } catch (e) {
      throw new InspectError((e as Error).message, 'bad_request', 'dir');
    }
    if (out.pairs === 0) return { ...out, datasetId: null };
    const datasetId = importBack ? await this.d.importDataset(resolve(dir), `judged pairs from ${this.getSet(setId).name}`) : null;
    return { ...out, datasetId };
  }

  async exportJudgments(setId: number, modelA: string, modelB: string, path: string, format: 'csv' | 'jsonl'): Promise<{ path: string; rows: number }> {
    const { all } = this.everything(setId, modelA, modelB);
    const { text, rows } = judgmentsText(all, format);
    const target = resolve(path);
    await writeFile(target, text);
    return { path: target, rows };
  }

  /** Everything the report needs (./report.ts renders it). */
  reportData(setId: number, modelA: string, modelB: string): { set: EvalSetDetail; page: InspectPage; items: (InspectItem & { imageRef: CoreImageRef })[]; labels: { a: string; b: string } } {
    const set = this.getSet(setId);
    const page = this.page(setId, modelA, modelB, 0, Number.MAX_SAFE_INTEGER);
    const { all } = this.everything(setId, modelA, modelB);
    const label = (k: string) => this.d.inspect.latestJob(setId, k)?.modelLabel ?? k;
    return { set, page, items: all, labels: { a: label(modelA), b: label(modelB) } };
  }
}
