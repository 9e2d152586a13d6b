/**
 * Probe sets: images + questions for hallucination inspection on the user's own data, each
 * item optionally with ground truth. Read-only on the user's files, validated like preference
 * datasets: every problem is an issue naming the file (and line), the record and the field;
 * a record with an error is excluded; the rest are kept. Throws only DatasetError when the
 * root itself cannot be read.
 *
 * One JSON list or JSONL file (or a folder holding exactly one), records:
 *   {image, text, label}        POPE's own format (label "yes"/"no"; `question` also accepted)
 *   {image, text, objects}      object-annotated: the objects present (COCO words or your own)
 *   {image, text}               no ground truth: side by side only
 * Image field also `image_path`, `img_path`, `img`; question field also `question`, `prompt`;
 * optional id from `question_id` / `id`.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { checkImageBytes, DEFAULT_MAX_FILE_BYTES, type ImageCheck, type ImageCheckOptions } from './image-check';
import { datasetIssue, recordIssue } from './issues';
import { resolveImagePath } from './paths';
import type { ProbeKinds } from '../../shared/inspect';
import { DatasetError, type DataIssue, type ImageRef, type IssueCode, type SourcePos, type ValidationSummary } from './types';

export type ProbeTruth = { kind: 'yesno'; label: 'yes' | 'no' } | { kind: 'objects'; objects: string[] } | null;

export interface ProbeItem {
  /** 0-based position among all records of the file. */
  index: number;
  id: string;
  image: ImageRef & { kind: 'file' };
  question: string;
  truth: ProbeTruth;
  source: SourcePos;
  /** sha256 of the image bytes. */
  sha256: string;
}

export type ProbeFormat = 'probe-jsonl' | 'probe-json';

export interface ProbeReport {
  root: string;
  format: ProbeFormat | null;
  files: string[];
  excluded: number[];
  issues: DataIssue[];
  /** A dataset report's counts (no text-length or image statistics), plus the items by ground truth. */
  summary: Omit<ValidationSummary, 'lengths' | 'images'> & { kinds: ProbeKinds };
  createdAt: string;
}

export interface ProbeImportResult {
  items: ProbeItem[];
  report: ProbeReport;
}

const IMAGE_FIELDS = ['image', 'image_path', 'img_path', 'img'];
const QUESTION_FIELDS = ['text', 'question', 'prompt'];
const ID_FIELDS = ['question_id', 'id'];

interface Raw {
  value: unknown;
  pos: SourcePos;
  index: number;
  parseError?: string;
}

async function locate(root: string): Promise<{ baseDir: string; file: string | null; issues: DataIssue[] }> {
  let st;
  try {
    st = await fs.stat(root);
  } catch (e) {
    throw new DatasetError('unreadable-root', root, `Cannot read ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const real = await fs.realpath(root);
  if (!st.isDirectory()) return { baseDir: path.dirname(real), file: path.basename(real), issues: [] };
  const names = (await fs.readdir(real)).filter((n) => /\.(jsonl|json)$/i.test(n)).sort();
  if (names.length === 1) return { baseDir: real, file: names[0]!, issues: [] };
  const detail = names.length === 0 ? 'holds no .json or .jsonl probe file' : `holds ${names.length} probe files (${names.join(', ')}); pick one`;
  return { baseDir: real, file: null, issues: [datasetIssue(names.length === 0 ? 'unknown-format' : 'ambiguous-dataset', root, detail)] };
}

function parseRecords(text: string, file: string): { format: ProbeFormat; raws: Raw[] } | { error: DataIssue } {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[')) {
    let list: unknown;
    try {
      list = JSON.parse(text);
    } catch (e) {
      return { error: datasetIssue('invalid-json', file, `is not valid JSON (${(e as Error).message})`) };
    }
    return { format: 'probe-json', raws: (list as unknown[]).map((value, index) => ({ value, index, pos: { file, index } })) };
  }
  const raws: Raw[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const index = raws.length;
    const pos = { file, index, line: i + 1 };
    try {
      raws.push({ value: JSON.parse(line), index, pos });
    } catch (e) {
      raws.push({ value: undefined, index, pos, parseError: (e as Error).message });
    }
  });
  return { format: 'probe-jsonl', raws };
}

function pick(o: Record<string, unknown>, fields: string[]): { field: string; value: unknown } | null {
  for (const f of fields) if (o[f] !== undefined && o[f] !== null) return { field: f, value: o[f] };
  return null;
}

interface Checked {
  ref?: ImageRef & { kind: 'file' };
  check: ImageCheck;
}

async function checkImage(baseDir: string, given: string, options: ImageCheckOptions, cache: Map<string, Promise<Checked>>): Promise<Checked> {
  let pending = cache.get(given);
  if (!pending) {
    pending = (async (): Promise<Checked> => {
      const fail = (code: IssueCode, detail: string): Checked => ({ check: { ok: false, error: { severity: 'error', code, detail } } });
      const resolved = await resolveImagePath(baseDir, given);
      if (!resolved.ok) return fail(resolved.code, resolved.detail);
      const max = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
      let bytes: Buffer;
      try {
        const size = (await fs.stat(resolved.abs)).size;
        if (size > max) return fail('image-too-large', `${JSON.stringify(given)} is ${size} bytes, over the file limit of ${max}; refused unread`);
        bytes = await fs.readFile(resolved.abs);
      } catch (e) {
        return fail('image-unreadable', `${JSON.stringify(given)} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      const check = await checkImageBytes(bytes, options);
      if (!check.ok) check.error.detail = `${JSON.stringify(given)} ${check.error.detail}`;
      return { ref: { kind: 'file', path: resolved.abs, relPath: resolved.rel }, check };
    })();
    cache.set(given, pending);
  }
  return pending;
}

type Add = (severity: 'error' | 'warning' | 'note', code: IssueCode, field: string | undefined, detail: string) => void;

function readTruth(o: Record<string, unknown>, add: Add): ProbeTruth | undefined {
  const label = o.label;
  const objects = o.objects;
  if (label !== undefined && objects !== undefined) {
    add('error', 'wrong-type', 'objects', 'is given together with "label": an item holds a yes/no label or an object list, not both');
    return undefined;
  }
  if (label !== undefined) {
    const l = typeof label === 'string' ? label.trim().toLowerCase() : typeof label === 'boolean' ? (label ? 'yes' : 'no') : null;
    if (l !== 'yes' && l !== 'no') {
      add('error', 'wrong-type', 'label', `must be "yes" or "no", but is ${JSON.stringify(label)}`);
      return undefined;
    }
    return { kind: 'yesno', label: l };
  }
  if (objects !== undefined) {
    if (!Array.isArray(objects) || objects.some((x) => typeof x !== 'string')) {
      add('error', 'wrong-type', 'objects', `must be a list of object names (strings), but is ${JSON.stringify(objects).slice(0, 80)}`);
      return undefined;
    }
    const names = [...new Set(objects.map((x: string) => x.trim()).filter((x) => x !== ''))];
    if (names.length < objects.length) add('note', 'empty-field', 'objects', `${objects.length - names.length} empty or repeated name(s) dropped`);
    return { kind: 'objects', objects: names };
  }
  return null;
}

/** Reads and validates one probe set. */
export async function importProbeSet(root: string, options: ImageCheckOptions = {}): Promise<ProbeImportResult> {
  const { baseDir, file, issues: rootIssues } = await locate(root);
  const issues: DataIssue[] = [...rootIssues];
  const items: ProbeItem[] = [];
  const excluded: number[] = [];
  let format: ProbeFormat | null = null;
  let records = 0;
  if (file !== null) {
    let text: string;
    try {
      text = await fs.readFile(path.join(baseDir, file), 'utf8');
    } catch (e) {
      throw new DatasetError('unreadable-root', path.join(baseDir, file), `Cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const parsed = parseRecords(text, file);
    if ('error' in parsed) issues.push(parsed.error);
    else {
      format = parsed.format;
      records = parsed.raws.length;
      if (records === 0) issues.push(datasetIssue('empty-dataset', file, 'holds no records'));
      const cache = new Map<string, Promise<Checked>>();
      const seen = new Map<string, number>();
      for (const raw of parsed.raws) {
        const own: DataIssue[] = [];
        const add: Add = (sev, code, field, detail) => own.push(recordIssue(sev, code, raw.pos, raw.index, field, detail));
        const item = await readItem(raw, baseDir, options, cache, add);
        if (item) {
          const key = `${item.sha256}\0${item.question}`;
          const first = seen.get(key);
          if (first !== undefined) add('error', 'duplicate-record', undefined, `asks the same question about the same image as record ${first}; only the first is kept`);
          else seen.set(key, raw.index);
        }
        issues.push(...own);
        if (item && !own.some((i) => i.severity === 'error')) items.push(item);
        else excluded.push(raw.index);
      }
    }
  }
  const byCode: Partial<Record<IssueCode, number>> = {};
  for (const i of issues) byCode[i.code] = (byCode[i.code] ?? 0) + 1;
  const count = (s: DataIssue['severity']) => issues.filter((i) => i.severity === s).length;
  const kinds = { yesno: 0, objects: 0, none: 0 };
  for (const it of items) kinds[it.truth === null ? 'none' : it.truth.kind]++;
  return {
    items,
    report: {
      root,
      format,
      files: file === null ? [] : [file],
      excluded,
      issues,
      summary: { records, valid: items.length, excluded: excluded.length, errors: count('error'), warnings: count('warning'), notes: count('note'), byCode, kinds },
      createdAt: new Date().toISOString(),
    },
  };
}

async function readItem(raw: Raw, baseDir: string, options: ImageCheckOptions, cache: Map<string, Promise<Checked>>, add: Add): Promise<ProbeItem | null> {
  if (raw.parseError !== undefined) {
    add('error', 'invalid-json-line', undefined, `is not valid JSON (${raw.parseError})`);
    return null;
  }
  if (typeof raw.value !== 'object' || raw.value === null || Array.isArray(raw.value)) {
    add('error', 'not-an-object', undefined, 'is not a JSON object');
    return null;
  }
  const o = raw.value as Record<string, unknown>;
  let ok = true;
  const text = (fields: string[], name: string): string | null => {
    const found = pick(o, fields);
    if (!found) {
      add('error', 'missing-field', fields[0], `is missing (${name}; also read from ${fields.slice(1).map((f) => `"${f}"`).join(', ')})`);
      ok = false;
      return null;
    }
    if (typeof found.value !== 'string') {
      add('error', 'wrong-type', found.field, `must be a string, but is ${JSON.stringify(found.value).slice(0, 80)}`);
      ok = false;
      return null;
    }
    if (found.value.trim() === '') {
      add('error', 'empty-field', found.field, 'is empty');
      ok = false;
      return null;
    }
    return found.value.trim();
  };
  const imagePath = text(IMAGE_FIELDS, 'the image file, relative to the probe file');
  const question = text(QUESTION_FIELDS, 'the question asked about the image');
  const truth = readTruth(o, add);
  if (truth === undefined) ok = false;
  if (imagePath === null) return null;
  const imageField = pick(o, IMAGE_FIELDS)!.field;
  const { ref, check } = await checkImage(baseDir, imagePath, options, cache);
  if (!check.ok) {
    add('error', check.error.code, imageField, check.error.detail);
    return null;
  }
  for (const n of check.notes) add('note', n.code, imageField, n.detail);
  if (!ok || question === null || truth === undefined || !ref) return null;
  const idField = pick(o, ID_FIELDS);
  const id = idField && (typeof idField.value === 'string' || typeof idField.value === 'number') ? String(idField.value) : `${raw.pos.file}#${raw.index}`;
  return { index: raw.index, id, image: ref, question, truth, source: raw.pos, sha256: check.info.sha256 };
}
