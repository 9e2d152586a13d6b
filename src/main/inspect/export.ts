/**
 * Closing the loop: judged items become a preference dataset in the app's own import format
 * (silkie-jsonl: pairs.jsonl of {id, img_path, prompt, chosen, rejected} + images/), and the
 * judgments themselves become CSV or JSONL.
 *
 * chosen / rejected per item: the answer judged better (verdict A or B); otherwise (tie,
 * both wrong, no verdict) the answer without hallucination marks over the one with marks; items
 * where neither rule decides, or where the two answers are the same text, are skipped.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import sharp from 'sharp';
import { readImageBytes } from '../../core/data/preprocess';
import type { ImageRef as CoreImageRef } from '../../core/data/types';
import type { InspectItem } from '../../shared/inspect';

export interface PairChoice {
  chosen: string;
  rejected: string;
  why: 'verdict' | 'marks';
}

/** The preference one judged item gives, or null. */
export function pairOf(item: InspectItem): PairChoice | null {
  const { a, b } = item;
  // An empty answer cannot be a side of a pair (the importer refuses empty fields).
  if (!a || !b || a.text.trim() === '' || b.text.trim() === '' || a.text.trim() === b.text.trim()) return null;
  if (item.verdict === 'a') return { chosen: a.text, rejected: b.text, why: 'verdict' };
  if (item.verdict === 'b') return { chosen: b.text, rejected: a.text, why: 'verdict' };
  const ma = a.humanMarks.length > 0;
  const mb = b.humanMarks.length > 0;
  if (ma && !mb) return { chosen: b.text, rejected: a.text, why: 'marks' };
  if (mb && !ma) return { chosen: a.text, rejected: b.text, why: 'marks' };
  return null;
}

async function emptyFolder(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
  if (entries && entries.length > 0) throw new Error(`${dir} is not empty; export into a new or empty folder (nothing was written).`);
}

async function imageExt(bytes: Uint8Array, ref: CoreImageRef): Promise<string> {
  if (ref.kind === 'file' && extname(ref.path)) return extname(ref.path).toLowerCase();
  const format = (await sharp(bytes).metadata()).format;
  return format === 'jpeg' ? '.jpg' : `.${format ?? 'png'}`;
}

/** Writes pairs.jsonl and images/ into `dir` (new or empty). */
export async function exportPairs(dir: string, items: readonly (InspectItem & { imageRef: CoreImageRef })[]): Promise<{ path: string; pairs: number; skipped: number }> {
  await emptyFolder(dir);
  const lines: string[] = [];
  const files: [string, Uint8Array][] = [];
  for (const item of items) {
    const p = pairOf(item);
    if (!p) continue;
    const bytes = await readImageBytes(item.imageRef);
    const name = `images/${item.id}${await imageExt(bytes, item.imageRef)}`;
    files.push([name, bytes]);
    lines.push(JSON.stringify({ id: `${item.key}`, img_path: name, prompt: item.question, chosen: p.chosen, rejected: p.rejected }));
  }
  // Everything is read before anything is written: a bad image leaves no half-written folder.
  await mkdir(join(dir, 'images'), { recursive: true });
  for (const [name, bytes] of files) await writeFile(join(dir, name), bytes);
  const path = join(dir, 'pairs.jsonl');
  await writeFile(path, lines.length ? `${lines.join('\n')}\n` : '');
  return { path, pairs: lines.length, skipped: items.length - lines.length };
}

const JUDGMENT_COLUMNS = ['item', 'question', 'truth', 'model_a', 'answer_a', 'marks_a', 'model_b', 'answer_b', 'marks_b', 'verdict', 'note'] as const;

function judgmentRow(item: InspectItem): Record<(typeof JUDGMENT_COLUMNS)[number], string> {
  const t = item.truth;
  return {
    item: item.key,
    question: item.question,
    truth: t === null ? '' : t.kind === 'yesno' ? t.label : t.objects.join('; '),
    model_a: item.a?.modelKey ?? '',
    answer_a: item.a?.text ?? '',
    marks_a: (item.a?.humanMarks ?? []).map((m) => m.text).join(' | '),
    model_b: item.b?.modelKey ?? '',
    answer_b: item.b?.text ?? '',
    marks_b: (item.b?.humanMarks ?? []).map((m) => m.text).join(' | '),
    verdict: item.verdict ?? '',
    note: item.note,
  };
}

/** RFC 4180: quote every field, double the quotes inside. */
const csvField = (s: string): string => `"${s.replace(/"/g, '""')}"`;

/** Judgments of every item that has a verdict or a mark, as CSV or JSONL. */
export function judgmentsText(items: readonly InspectItem[], format: 'csv' | 'jsonl'): { text: string; rows: number } {
  const judged = items.filter((i) => i.verdict !== null || i.note !== '' || (i.a?.humanMarks.length ?? 0) > 0 || (i.b?.humanMarks.length ?? 0) > 0);
  const rows = judged.map(judgmentRow);
  if (format === 'jsonl') {
    // JSONL keeps the marks as spans ({start, end, text}) rather than joined text.
    const json = rows.map((r, k) => JSON.stringify({ ...r, marks_a: judged[k]!.a?.humanMarks ?? [], marks_b: judged[k]!.b?.humanMarks ?? [] }));
    return { text: json.length ? `${json.join('\n')}\n` : '', rows: rows.length };
  }
  const lines = [JUDGMENT_COLUMNS.join(','), ...rows.map((r) => JUDGMENT_COLUMNS.map((c) => csvField(r[c])).join(','))];
  return { text: `${lines.join('\r\n')}\r\n`, rows: rows.length };
}
