/**
 * Reading data files into raw rows: JSON lists (with each element's line), JSONL (bad lines
 * become per-record errors), parquet through hyparquet (binary cells kept as bytes).
 * Nothing here throws for bad content: problems come back as issues.
 */
import fs from 'node:fs/promises';
import { parquetReadObjects } from 'hyparquet';
import { datasetIssue } from './issues';
import type { DataIssue, SourcePos } from './types';

export interface RawRow {
  value: unknown;
  pos: SourcePos;
  /** A JSONL line that does not parse. */
  parseError?: string;
}

export interface FileRows {
  rows: RawRow[];
  issues: DataIssue[];
}

/** 1-based line of a character offset. */
function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The 1-based start line of every element of a top-level JSON array (a string-aware scan). */
export function arrayElementLines(text: string): number[] {
  const lines: number[] = [];
  let depth = 0;
  let line = 1;
  let inString = false;
  let expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\n') line++;
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (depth === 1 && expectElement && !/\s/.test(ch) && ch !== ']') {
      lines.push(line);
      expectElement = false;
    }
    if (ch === '"') inString = true;
    else if (ch === '[' || ch === '{') {
      depth++;
      if (depth === 1 && ch === '[') expectElement = true;
    } else if (ch === ']' || ch === '}') depth--;
    else if (ch === ',' && depth === 1) expectElement = true;
  }
  return lines;
}

/** Where JSON.parse stopped, from its message ("... at position 123" / "line 3 column 5"). */
function jsonErrorLine(text: string, message: string): number | undefined {
  const pos = /position (\d+)/.exec(message);
  if (pos) return lineOf(text, Number(pos[1]));
  const lc = /line (\d+)/.exec(message);
  return lc ? Number(lc[1]) : undefined;
}

export function decodeText(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** A JSON file: a list of records, or (LLaMA-Factory / HF) an object we report as not a list. */
export async function readJsonFile(abs: string, rel: string): Promise<FileRows & { topLevel?: unknown }> {
  const text = decodeText(await fs.readFile(abs));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    return { rows: [], issues: [datasetIssue('invalid-json', rel, `is not valid JSON (${msg})`, jsonErrorLine(text, msg))] };
  }
  if (!Array.isArray(value)) {
    return { rows: [], topLevel: value, issues: [datasetIssue('unknown-format', rel, `holds ${value === null ? 'null' : typeof value === 'object' ? 'an object' : `a ${typeof value}`} at the top level, expected a list of records`)] };
  }
  const lines = arrayElementLines(text);
  return { rows: value.map((v, index) => ({ value: v, pos: { file: rel, index, line: lines[index] } })), issues: [] };
}

/** JSONL: one record per non-empty line. */
export async function readJsonlFile(abs: string, rel: string): Promise<FileRows> {
  const text = decodeText(await fs.readFile(abs));
  const rows: RawRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const pos: SourcePos = { file: rel, index: rows.length, line: i + 1 };
    try {
      rows.push({ value: JSON.parse(line), pos });
    } catch (e) {
      rows.push({ value: undefined, pos, parseError: (e as Error).message });
    }
  }
  return { rows, issues: [] };
}

/** Parquet: every row as an object; BYTE_ARRAY cells without a string type stay bytes. */
export async function readParquetFile(abs: string, rel: string): Promise<FileRows> {
  const buf = await fs.readFile(abs);
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  try {
    const objects = await parquetReadObjects({ file, utf8: false });
    return { rows: objects.map((value, index) => ({ value: plain(value), pos: { file: rel, index } })), issues: [] };
  } catch (e) {
    return { rows: [], issues: [datasetIssue('invalid-parquet', rel, `cannot be read as parquet (${(e as Error).message})`)] };
  }
}

/** bigint ids to numbers where exact, so records stay JSON-friendly. */
function plain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plain(x);
    return out;
  }
  return v;
}

/**
 * Reads one parquet cell back (embedded images after import). The whole column of the last
 * file read is kept (one file at a time), so a pass over the records in order decodes each
 * file's image column once instead of once per record.
 */
let columnCache: { key: string; cells: unknown[] } | null = null;

export async function readParquetCell(abs: string, row: number, column: string): Promise<unknown> {
  const st = await fs.stat(abs);
  const key = `${abs}\0${column}\0${st.size}\0${st.mtimeMs}`;
  if (columnCache?.key !== key) {
    const buf = await fs.readFile(abs);
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    const rows = await parquetReadObjects({ file, utf8: false, columns: [column] });
    columnCache = { key, cells: rows.map((r) => r[column]) };
  }
  if (row >= columnCache.cells.length) throw new Error(`${abs} has ${columnCache.cells.length} rows, no row ${row}`);
  return columnCache.cells[row];
}

/** Frees the column kept by readParquetCell. */
export function clearParquetCellCache(): void {
  columnCache = null;
}
