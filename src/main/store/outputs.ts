/** Evaluation results and generated outputs of a run. */
import type Database from 'better-sqlite3';
import type { EvaluationRow, HallucinationMark, OutputRow, ParsedObject } from '../../shared/api';
import { type NewOutput, now } from './types';

interface OutputDbRow {
  id: number;
  run_id: number;
  image: string;
  image_path: string | null;
  question: string;
  answer: string;
  objects: string;
  marks: string | null;
}

export function putEvaluations(db: Database.Database, runId: number, rows: EvaluationRow[]): void {
  const stmt = db.prepare(
    'INSERT OR REPLACE INTO evaluations (run_id, metric, setting, value, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const at = now();
  db.transaction(() => {
    for (const r of rows) stmt.run(runId, r.metric, r.setting, r.value, at);
  })();
}

export function listEvaluations(db: Database.Database, runId: number): EvaluationRow[] {
  return db
    .prepare('SELECT metric, setting, value FROM evaluations WHERE run_id = ? ORDER BY metric, setting')
    .all(runId) as EvaluationRow[];
}

export function insertOutputs(db: Database.Database, rows: NewOutput[]): number[] {
  const stmt = db.prepare(
    `INSERT INTO outputs (run_id, image, image_path, question, answer, objects, marks, hallucinated, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const at = now();
  return db.transaction(() =>
    rows.map((r) => {
      const hallucinated = r.marks?.some((m) => m.kind === 'hallucinated') ? 1 : 0;
      const info = stmt.run(
        r.runId,
        r.image,
        r.imagePath ?? null,
        r.question,
        r.answer,
        JSON.stringify(r.objects),
        r.marks == null ? null : JSON.stringify(r.marks),
        hallucinated,
        at,
      );
      return Number(info.lastInsertRowid);
    }),
  )();
}

export function pageOutputs(
  db: Database.Database,
  runId: number,
  offset: number,
  limit: number,
  onlyHallucinated: boolean,
): { items: OutputRow[]; total: number } {
  const where = `run_id = ?${onlyHallucinated ? ' AND hallucinated = 1' : ''}`;
  const total = (db.prepare(`SELECT COUNT(*) AS n FROM outputs WHERE ${where}`).get(runId) as { n: number }).n;
  const rows = db
    .prepare(`SELECT * FROM outputs WHERE ${where} ORDER BY id LIMIT ? OFFSET ?`)
    .all(runId, limit, offset) as OutputDbRow[];
  return { items: rows.map(toOutput), total };
}

export function getOutput(db: Database.Database, id: number): (OutputRow & { imagePath: string | null }) | null {
  const row = db.prepare('SELECT * FROM outputs WHERE id = ?').get(id) as OutputDbRow | undefined;
  return row ? { ...toOutput(row), imagePath: row.image_path } : null;
}

function toOutput(row: OutputDbRow): OutputRow {
  return {
    id: row.id,
    runId: row.run_id,
    image: row.image,
    question: row.question,
    answer: row.answer,
    objects: JSON.parse(row.objects) as ParsedObject[],
    marks: row.marks == null ? null : (JSON.parse(row.marks) as HallucinationMark[]),
  };
}
