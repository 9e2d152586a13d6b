/**
 * Store queries for hallucination inspection (migration 2): evaluation sets and their items,
 * answer jobs and answers (reused by answer key, resumable item by item), human span marks and
 * verdicts with an undo log. Works on the Store's database handle: `new InspectStore(store.db)`.
 */
import type Database from 'better-sqlite3';
import type { ImageRef as CoreImageRef } from '../../core/data/types';
import type {
  AnswerJob,
  AnswerJobStatus,
  EvalItem,
  EvalSetDetail,
  EvalSetReport,
  EvalSetSummary,
  GenerationSettings,
  HumanMark,
  ItemTruth,
  Verdict,
} from '../../shared/inspect';
import { pidAlive } from './runs';
import { now } from './types';

export interface NewEvalItem {
  index: number;
  key: string;
  image: CoreImageRef;
  question: string;
  truth: ItemTruth;
  reference?: { chosen: string; rejected: string } | null;
}

export interface NewEvalSet {
  name: string;
  kind: 'probe' | 'holdout';
  sourcePath: string;
  format: string | null;
  runId?: number | null;
  counts: { records: number; errors: number; warnings: number };
  report: EvalSetReport | null;
  items: NewEvalItem[];
}

export interface NewAnswerJob {
  setId: number;
  modelKey: string;
  modelLabel: string;
  runId: number | null;
  modelFingerprint: string;
  adapterFingerprint: string | null;
  settings: GenerationSettings;
  answerKey: string;
  total: number;
  ownerPid?: number | null;
}

export interface JobPatch {
  status?: AnswerJobStatus;
  done?: number;
  reused?: number;
  finishedAt?: string | null;
  ownerPid?: number | null;
  error?: { name: string; message: string } | null;
}

export interface StoredAnswer {
  answerId: number;
  itemId: number;
  text: string;
}

export interface VerdictRow {
  answerA: number;
  answerB: number;
  verdict: Verdict | null;
  note: string;
}

/** One undoable change, with what it replaced. */
export type JudgmentAction =
  | { op: 'verdict'; answerA: number; answerB: number; before: { verdict: Verdict | null; note: string } | null; after: { verdict: Verdict | null; note: string } }
  | { op: 'mark-add'; answerId: number; start: number; end: number }
  | { op: 'mark-remove'; answerId: number; start: number; end: number };

interface SetDbRow {
  id: number;
  name: string;
  kind: 'probe' | 'holdout';
  source_path: string;
  run_id: number | null;
  created_at: string;
  record_count: number;
  error_count: number;
  warning_count: number;
  report: string | null;
}

interface ItemDbRow {
  id: number;
  set_id: number;
  idx: number;
  item_key: string;
  image: string;
  question: string;
  truth: string | null;
  reference: string | null;
}

interface JobDbRow {
  id: number;
  set_id: number;
  model_key: string;
  model_label: string;
  run_id: number | null;
  model_fingerprint: string;
  adapter_fingerprint: string | null;
  settings: string;
  answer_key: string;
  status: AnswerJobStatus;
  done: number;
  total: number;
  reused: number;
  created_at: string;
  finished_at: string | null;
  owner_pid: number | null;
  error: string | null;
}

export type JobRow = AnswerJob & { runId: number | null; answerKey: string; ownerPid: number | null };

const toItem = (r: ItemDbRow): EvalItem & { imageRef: CoreImageRef } => ({
  id: r.id,
  setId: r.set_id,
  index: r.idx,
  key: r.item_key,
  image: `evalitem:${r.id}`,
  question: r.question,
  truth: r.truth === null ? null : (JSON.parse(r.truth) as ItemTruth),
  reference: r.reference === null ? null : (JSON.parse(r.reference) as { chosen: string; rejected: string }),
  imageRef: JSON.parse(r.image) as CoreImageRef,
});

const toJob = (r: JobDbRow): JobRow => ({
  id: r.id,
  setId: r.set_id,
  modelKey: r.model_key,
  modelLabel: r.model_label,
  runId: r.run_id,
  modelFingerprint: r.model_fingerprint,
  adapterFingerprint: r.adapter_fingerprint,
  settings: JSON.parse(r.settings) as GenerationSettings,
  answerKey: r.answer_key,
  status: r.status,
  done: r.done,
  total: r.total,
  reused: r.reused,
  etaMs: null,
  createdAt: r.created_at,
  finishedAt: r.finished_at,
  ownerPid: r.owner_pid,
  error: r.error === null ? null : (JSON.parse(r.error) as { name: string; message: string }),
});

export class InspectStore {
  constructor(readonly db: Database.Database) {}

  // ------------------------------------------------------------------------- sets and items

  insertSet(s: NewEvalSet): number {
    return this.db.transaction(() => {
      const info = this.db
        .prepare(
          `INSERT INTO eval_sets (name, kind, source_path, format, run_id, created_at, record_count, error_count, warning_count, report)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(s.name, s.kind, s.sourcePath, s.format, s.runId ?? null, now(), s.counts.records, s.counts.errors, s.counts.warnings, s.report === null ? null : JSON.stringify(s.report));
      const setId = Number(info.lastInsertRowid);
      const stmt = this.db.prepare('INSERT INTO eval_items (set_id, idx, item_key, image, question, truth, reference) VALUES (?, ?, ?, ?, ?, ?, ?)');
      for (const it of s.items) {
        stmt.run(setId, it.index, it.key, JSON.stringify(it.image), it.question, it.truth === null ? null : JSON.stringify(it.truth), it.reference ? JSON.stringify(it.reference) : null);
      }
      return setId;
    })();
  }

  private summary(r: SetDbRow): EvalSetSummary {
    const kinds = { yesno: 0, objects: 0, none: 0 };
    const rows = this.db
      .prepare(`SELECT COALESCE(json_extract(truth, '$.kind'), 'none') AS kind, COUNT(*) AS n FROM eval_items WHERE set_id = ? GROUP BY 1`)
      .all(r.id) as { kind: keyof typeof kinds; n: number }[];
    for (const k of rows) kinds[k.kind] = k.n;
    return {
      id: r.id,
      name: r.name,
      kind: r.kind,
      sourcePath: r.source_path,
      createdAt: r.created_at,
      items: kinds.yesno + kinds.objects + kinds.none,
      kinds,
      runId: r.run_id,
      counts: { records: r.record_count, errors: r.error_count, warnings: r.warning_count },
    };
  }

  listSets(): EvalSetSummary[] {
    return (this.db.prepare('SELECT * FROM eval_sets ORDER BY id').all() as SetDbRow[]).map((r) => this.summary(r));
  }

  getSet(id: number): EvalSetDetail | null {
    const r = this.db.prepare('SELECT * FROM eval_sets WHERE id = ?').get(id) as SetDbRow | undefined;
    if (!r) return null;
    return { ...this.summary(r), report: r.report === null ? null : (JSON.parse(r.report) as EvalSetReport) };
  }

  deleteSet(id: number): boolean {
    return this.db.prepare('DELETE FROM eval_sets WHERE id = ?').run(id).changes > 0;
  }

  items(setId: number, offset = 0, limit = -1): (EvalItem & { imageRef: CoreImageRef })[] {
    return (this.db.prepare('SELECT * FROM eval_items WHERE set_id = ? ORDER BY idx LIMIT ? OFFSET ?').all(setId, limit, offset) as ItemDbRow[]).map(toItem);
  }

  countItems(setId: number): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM eval_items WHERE set_id = ?').get(setId) as { n: number }).n;
  }

  getItem(itemId: number): (EvalItem & { imageRef: CoreImageRef }) | null {
    const r = this.db.prepare('SELECT * FROM eval_items WHERE id = ?').get(itemId) as ItemDbRow | undefined;
    return r ? toItem(r) : null;
  }

  // ------------------------------------------------------------------------- answer jobs and answers

  insertJob(j: NewAnswerJob): number {
    const info = this.db
      .prepare(
        `INSERT INTO answer_jobs (set_id, model_key, model_label, run_id, model_fingerprint, adapter_fingerprint, settings, answer_key, status, total, created_at, owner_pid)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)`,
      )
      .run(j.setId, j.modelKey, j.modelLabel, j.runId, j.modelFingerprint, j.adapterFingerprint, JSON.stringify(j.settings), j.answerKey, j.total, now(), j.ownerPid ?? null);
    return Number(info.lastInsertRowid);
  }

  updateJob(id: number, p: JobPatch): void {
    const sets: string[] = [];
    const values: unknown[] = [];
    const put = (col: string, v: unknown) => {
      sets.push(`${col} = ?`);
      values.push(v);
    };
    if (p.status !== undefined) put('status', p.status);
    if (p.done !== undefined) put('done', p.done);
    if (p.reused !== undefined) put('reused', p.reused);
    if (p.finishedAt !== undefined) put('finished_at', p.finishedAt);
    if (p.ownerPid !== undefined) put('owner_pid', p.ownerPid);
    if (p.error !== undefined) put('error', p.error === null ? null : JSON.stringify(p.error));
    if (sets.length === 0) return;
    this.db.prepare(`UPDATE answer_jobs SET ${sets.join(', ')} WHERE id = ?`).run(...values, id);
  }

  getJob(id: number): JobRow | null {
    const r = this.db.prepare('SELECT * FROM answer_jobs WHERE id = ?').get(id) as JobDbRow | undefined;
    return r ? toJob(r) : null;
  }

  listJobs(setId: number): JobRow[] {
    return (this.db.prepare('SELECT * FROM answer_jobs WHERE set_id = ? ORDER BY id').all(setId) as JobDbRow[]).map(toJob);
  }

  /** The newest job of a model on a set (whose answers the inspector shows). */
  latestJob(setId: number, modelKey: string): JobRow | null {
    const r = this.db.prepare('SELECT * FROM answer_jobs WHERE set_id = ? AND model_key = ? ORDER BY id DESC LIMIT 1').get(setId, modelKey) as JobDbRow | undefined;
    return r ? toJob(r) : null;
  }

  /** Jobs left running or queued by a process that is gone become interrupted (resumable). */
  recoverInterrupted(isAlive: (pid: number) => boolean = pidAlive): number[] {
    const rows = this.db.prepare(`SELECT id, owner_pid FROM answer_jobs WHERE status IN ('queued', 'running')`).all() as { id: number; owner_pid: number | null }[];
    const dead = rows.filter((r) => r.owner_pid === null || !isAlive(r.owner_pid)).map((r) => r.id);
    for (const id of dead) this.updateJob(id, { status: 'interrupted', ownerPid: null });
    return dead;
  }

  /** Items of a set that have no answer under this key yet, in order. */
  pendingItems(setId: number, answerKey: string): (EvalItem & { imageRef: CoreImageRef })[] {
    return (
      this.db
        .prepare('SELECT i.* FROM eval_items i WHERE i.set_id = ? AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.item_id = i.id AND a.answer_key = ?) ORDER BY i.idx')
        .all(setId, answerKey) as ItemDbRow[]
    ).map(toItem);
  }

  /** Stores one answer (a second write for the same item and key keeps the first). */
  putAnswer(itemId: number, answerKey: string, text: string): number {
    this.db.prepare('INSERT OR IGNORE INTO answers (item_id, answer_key, text, created_at) VALUES (?, ?, ?, ?)').run(itemId, answerKey, text, now());
    return (this.db.prepare('SELECT id FROM answers WHERE item_id = ? AND answer_key = ?').get(itemId, answerKey) as { id: number }).id;
  }

  answers(setId: number, answerKey: string): Map<number, StoredAnswer> {
    const rows = this.db
      .prepare('SELECT a.id AS answerId, a.item_id AS itemId, a.text FROM answers a JOIN eval_items i ON i.id = a.item_id WHERE i.set_id = ? AND a.answer_key = ?')
      .all(setId, answerKey) as StoredAnswer[];
    return new Map(rows.map((r) => [r.itemId, r]));
  }

  getAnswer(answerId: number): (StoredAnswer & { setId: number }) | null {
    const r = this.db
      .prepare('SELECT a.id AS answerId, a.item_id AS itemId, a.text, i.set_id AS setId FROM answers a JOIN eval_items i ON i.id = a.item_id WHERE a.id = ?')
      .get(answerId) as (StoredAnswer & { setId: number }) | undefined;
    return r ?? null;
  }

  // ------------------------------------------------------------------------- human judgments

  marks(answerIds: readonly number[]): Map<number, HumanMark[]> {
    const out = new Map<number, HumanMark[]>();
    if (answerIds.length === 0) return out;
    const rows = this.db
      .prepare(`SELECT m.id, m.answer_id, m.span_start, m.span_end, a.text FROM answer_marks m JOIN answers a ON a.id = m.answer_id
                WHERE m.answer_id IN (SELECT value FROM json_each(?)) ORDER BY m.answer_id, m.span_start`)
      .all(JSON.stringify(answerIds)) as { id: number; answer_id: number; span_start: number; span_end: number; text: string }[];
    for (const r of rows) {
      const list = out.get(r.answer_id) ?? [];
      list.push({ id: r.id, start: r.span_start, end: r.span_end, text: r.text.slice(r.span_start, r.span_end) });
      out.set(r.answer_id, list);
    }
    return out;
  }

  verdicts(setId: number): VerdictRow[] {
    return this.db
      .prepare(
        `SELECT v.answer_a AS answerA, v.answer_b AS answerB, v.verdict, v.note FROM verdicts v
         JOIN answers a ON a.id = v.answer_a JOIN eval_items i ON i.id = a.item_id WHERE i.set_id = ?`,
      )
      .all(setId) as VerdictRow[];
  }

  private log(setId: number, action: JudgmentAction): void {
    this.db.prepare('INSERT INTO judgment_log (set_id, action, created_at) VALUES (?, ?, ?)').run(setId, JSON.stringify(action), now());
  }

  private writeMark(answerId: number, start: number, end: number, present: boolean): void {
    if (present) this.db.prepare('INSERT INTO answer_marks (answer_id, span_start, span_end, created_at) VALUES (?, ?, ?, ?)').run(answerId, start, end, now());
    else this.db.prepare('DELETE FROM answer_marks WHERE answer_id = ? AND span_start = ? AND span_end = ?').run(answerId, start, end);
  }

  private writeVerdict(answerA: number, answerB: number, v: { verdict: Verdict | null; note: string } | null): void {
    if (v === null) this.db.prepare('DELETE FROM verdicts WHERE answer_a = ? AND answer_b = ?').run(answerA, answerB);
    else {
      this.db
        .prepare('INSERT INTO verdicts (answer_a, answer_b, verdict, note, updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (answer_a, answer_b) DO UPDATE SET verdict = excluded.verdict, note = excluded.note, updated_at = excluded.updated_at')
        .run(answerA, answerB, v.verdict, v.note, now());
    }
  }

  /** Marks answer[start, end) hallucinated; false when that exact span is already marked. */
  addMark(setId: number, answerId: number, start: number, end: number): boolean {
    return this.db.transaction(() => {
      const exists = this.db.prepare('SELECT 1 FROM answer_marks WHERE answer_id = ? AND span_start = ? AND span_end = ?').get(answerId, start, end);
      if (exists) return false;
      this.writeMark(answerId, start, end, true);
      this.log(setId, { op: 'mark-add', answerId, start, end });
      return true;
    })();
  }

  /** Removes a mark by id; false when there is none. */
  removeMark(setId: number, markId: number): boolean {
    return this.db.transaction(() => {
      const m = this.db.prepare('SELECT answer_id, span_start, span_end FROM answer_marks WHERE id = ?').get(markId) as { answer_id: number; span_start: number; span_end: number } | undefined;
      if (!m) return false;
      this.writeMark(m.answer_id, m.span_start, m.span_end, false);
      this.log(setId, { op: 'mark-remove', answerId: m.answer_id, start: m.span_start, end: m.span_end });
      return true;
    })();
  }

  setVerdict(setId: number, answerA: number, answerB: number, after: { verdict: Verdict | null; note: string }): void {
    this.db.transaction(() => {
      const before = (this.db.prepare('SELECT verdict, note FROM verdicts WHERE answer_a = ? AND answer_b = ?').get(answerA, answerB) as { verdict: Verdict | null; note: string } | undefined) ?? null;
      if (before && before.verdict === after.verdict && before.note === after.note) return;
      this.writeVerdict(answerA, answerB, after);
      this.log(setId, { op: 'verdict', answerA, answerB, before, after });
    })();
  }

  /** Reverts the newest judgment change of a set; returns it, or null when there is nothing to undo. */
  undo(setId: number): JudgmentAction | null {
    return this.db.transaction(() => {
      const row = this.db.prepare('SELECT id, action FROM judgment_log WHERE set_id = ? ORDER BY id DESC LIMIT 1').get(setId) as { id: number; action: string } | undefined;
      if (!row) return null;
      const a = JSON.parse(row.action) as JudgmentAction;
      if (a.op === 'verdict') this.writeVerdict(a.answerA, a.answerB, a.before);
      else this.writeMark(a.answerId, a.start, a.end, a.op === 'mark-remove');
      this.db.prepare('DELETE FROM judgment_log WHERE id = ?').run(row.id);
      return a;
    })();
  }
}
