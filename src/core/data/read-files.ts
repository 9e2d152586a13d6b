/**
 * Reading data files into raw rows, one at a time: JSON lists and JSONL are streamed in 1 MiB
 * chunks and parsed record by record (json-stream.ts), so memory does not grow with the file;
 * a record that does not parse or is not UTF-8 becomes a per-record error naming its line,
 * column, field and byte offset. Parquet goes through hyparquet (binary cells kept as bytes).
 * Nothing here throws for bad content: problems come back as issues.
 */
import { isUtf8 } from 'node:buffer';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { parquetReadObjects, type FileMetaData } from 'hyparquet';
import { datasetIssue } from './issues';
import { ArraySplitter, fieldAt, firstInvalidUtf8, LineSplitter, lineColumn, locateJsonError, type Piece } from './json-stream';
import { checkParquetFile, ParquetDamage } from './parquet-check';
import { isObject } from './records';
import type { DataIssue, SourcePos } from './types';

export function decodeText(bytes: Buffer): string {
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

export interface RawRow {
  value: unknown;
  pos: SourcePos;
  /** A record that cannot be read: a line/element that does not parse, or bytes that are not UTF-8. */
  error?: { code: 'invalid-json-line' | 'invalid-utf8'; field?: string; detail: string };
}

/**
 * Shared by the row readers of one import: dataset-level issues, and `failed` when such an
 * error came after rows of the same dataset were already produced (the import then keeps none).
 */
export interface ReadState {
  issues: DataIssue[];
  failed: boolean;
  /** Bytes of data files read so far (progress). */
  bytesRead: number;
}

const CHUNK = 1 << 20;
/** A JSON file that is not a list is read whole (LLaMA-Factory side files); larger ones are refused. */
const MAX_OBJECT_FILE = 256 << 20;

/** The text of a record's bytes, or why it is not UTF-8 (with the field and the byte offset). */
function decodePiece(piece: Piece, rel: string): { text: string } | { error: NonNullable<RawRow['error']> } {
  const bytes = Buffer.isBuffer(piece.bytes) ? piece.bytes : Buffer.from(piece.bytes.buffer, piece.bytes.byteOffset, piece.bytes.byteLength);
  if (isUtf8(bytes)) return { text: bytes.toString('utf8') };
  const bad = firstInvalidUtf8(bytes);
  const f = fieldAt(bytes, bad);
  const byte = `0x${bytes[bad].toString(16).padStart(2, '0')}`;
  const inField = f ? ` (byte ${bad - f.valueStart} of the field's JSON text)` : '';
  const detail = `is not valid UTF-8: byte ${byte} at byte offset ${piece.offset + bad} of ${rel}${inField}; re-save the file as UTF-8`;
  return { error: { code: 'invalid-utf8', field: f?.field, detail } };
}

/** One record from its bytes: parsed, or an error naming the line and column where parsing stopped. */
function pieceRow(piece: Piece, rel: string, index: number): RawRow {
  const pos: SourcePos = { file: rel, index, line: piece.line };
  const decoded = decodePiece(piece, rel);
  if ('error' in decoded) return { value: undefined, pos, error: decoded.error };
  try {
    return { value: JSON.parse(decoded.text), pos };
  } catch {
    const e = locateJsonError(decoded.text);
    const at = lineColumn(decoded.text, e.offset, piece.line, piece.column);
    return { value: undefined, pos, error: { code: 'invalid-json-line', detail: `is not valid JSON at line ${at.line}, column ${at.column}: ${e.detail}` } };
  }
}

async function* chunks(abs: string, state: ReadState): AsyncGenerator<Buffer> {
  const stream = createReadStream(abs, { highWaterMark: CHUNK });
  try {
    for await (const chunk of stream) {
      state.bytesRead += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  } finally {
    stream.destroy();
  }
}

/** A JSON file: a list of records, streamed element by element. */
async function* readJsonRows(abs: string, rel: string, state: ReadState): AsyncGenerator<RawRow> {
  const splitter = new ArraySplitter();
  let index = 0;
  for await (const chunk of chunks(abs, state)) {
    for (const piece of splitter.push(chunk)) yield pieceRow(piece, rel, index++);
    if (splitter.notArray || splitter.problem) break;
  }
  if (splitter.notArray) {
    state.issues.push(await notAList(abs, rel));
    return;
  }
  const problem = splitter.problem ?? splitter.end();
  if (problem) {
    state.issues.push(datasetIssue('invalid-json', rel, `is not valid JSON at line ${problem.line}, column ${problem.column}: ${problem.detail}`, problem.line));
    if (index > 0) state.failed = true;
  }
}

/** A JSON file that is not a list: what it holds instead (read whole; such files are small). */
async function notAList(abs: string, rel: string): Promise<DataIssue> {
  const size = (await fs.stat(abs)).size;
  if (size > MAX_OBJECT_FILE) return datasetIssue('unknown-format', rel, `does not hold a list of records at the top level (and at ${size} bytes is too large to read whole)`);
  const text = decodeText(await fs.readFile(abs));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    const e = locateJsonError(text);
    const at = lineColumn(text, e.offset);
    return datasetIssue('invalid-json', rel, `is not valid JSON at line ${at.line}, column ${at.column}: ${e.detail}`, at.line);
  }
  if (isObject(value) && Object.values(value).some((v) => isObject(v) && 'file_name' in v)) {
    return datasetIssue('unknown-format', rel, 'looks like a LLaMA-Factory dataset_info.json; pick its folder, or name the file dataset_info.json');
  }
  return datasetIssue('unknown-format', rel, `holds ${value === null ? 'null' : typeof value === 'object' ? 'an object' : `a ${typeof value}`} at the top level, expected a list of records`);
}

/** JSONL: one record per non-empty line. */
async function* readJsonlRows(abs: string, rel: string, state: ReadState): AsyncGenerator<RawRow> {
  const splitter = new LineSplitter();
  let index = 0;
  for await (const chunk of chunks(abs, state)) {
    for (const piece of splitter.push(chunk)) yield pieceRow(piece, rel, index++);
  }
  for (const piece of splitter.end()) yield pieceRow(piece, rel, index++);
}

/** hyparquet's reasons (and our damage checks), in words a user can act on; the reader's own message follows. */
export function parquetProblem(e: Error): string {
  const message = e.message;
  if (e instanceof ParquetDamage) return `is damaged (${message}): the file was probably cut off or overwritten in places; download or export it again`;
  let words: string;
  if (/footer != PAR1|too short/i.test(message)) words = 'is not a parquet file, or is cut off: a parquet file starts and ends with the 4 bytes "PAR1"';
  else if (/metadata length .* exceeds/i.test(message)) words = 'is cut off or damaged: its footer says the metadata is longer than the file';
  else if (/compression codec/i.test(message)) words = 'uses a compression this app does not read; re-export it with snappy or no compression';
  else if (/unsupported|not supported/i.test(message)) words = 'uses a parquet feature this app does not read';
  else words = 'is damaged: a page in the middle of the file cannot be decoded (the file was probably cut off, or overwritten in places); download or export it again';
  return `${words} (parquet reader: ${message})`;
}

/**
 * Parquet: every row as an object; BYTE_ARRAY cells without a string type stay bytes. The file
 * is checked (parquet-check.ts), then decoded one row group at a time, so the decoded rows in
 * memory are one row group's, not the file's.
 */
async function* readParquetRows(abs: string, rel: string, state: ReadState): AsyncGenerator<RawRow> {
  const buf = await fs.readFile(abs);
  state.bytesRead += buf.length;
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  let metadata: FileMetaData;
  try {
    metadata = checkParquetFile(file);
  } catch (e) {
    state.issues.push(datasetIssue('invalid-parquet', rel, parquetProblem(e as Error)));
    return;
  }
  let index = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = index + Number(group.num_rows);
    let objects: Record<string, unknown>[];
    try {
      objects = await parquetReadObjects({ file, metadata, rowStart: index, rowEnd, utf8: false });
    } catch (e) {
      state.issues.push(datasetIssue('invalid-parquet', rel, parquetProblem(e as Error)));
      if (index > 0) state.failed = true;
      return;
    }
    for (const row of objects) yield { value: plain(row), pos: { file: rel, index: index++ } };
    index = rowEnd;
  }
}

/** The rows of one data file, by its extension. Dataset-level problems go to `state`. */
export function readRows(abs: string, rel: string, state: ReadState): AsyncGenerator<RawRow> {
  if (/\.parquet$/i.test(rel)) return readParquetRows(abs, rel, state);
  if (/\.jsonl$/i.test(rel)) return readJsonlRows(abs, rel, state);
  return readJsonRows(abs, rel, state);
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
    const rows = await parquetReadObjects({ file, metadata: checkParquetFile(file), utf8: false, columns: [column] });
    columnCache = { key, cells: rows.map((r) => r[column]) };
  }
  if (row >= columnCache.cells.length) throw new Error(`${abs} has ${columnCache.cells.length} rows, no row ${row}`);
  return columnCache.cells[row];
}

/** Frees the column kept by readParquetCell. */
export function clearParquetCellCache(): void {
  columnCache = null;
}
