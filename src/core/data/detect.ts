/**
 * Format auto-detection: from the path the user picked (a folder or a file) to the data
 * files, a stream of their rows and the record shape. The shape is decided by the first
 * record of a known shape among the first LOOKAHEAD rows (not by the first row alone: a first
 * record missing a field is that record's error, not the file's). Throws only when the root
 * cannot be read.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { datasetIssue } from './issues';
import { SHAREGPT_TAGS, type MessageTags } from './messages';
import { readRows, type RawRow, type ReadState } from './read-files';
import { detectShape, isConversational, isObject, type Shape } from './records';
import { DatasetError, type DataIssue, type DatasetFormat } from './types';

export interface DetectedDataset {
  format: DatasetFormat | null;
  /** The folder images resolve against (real path). */
  baseDir: string;
  /** Data files read, relative to baseDir. */
  files: string[];
  /** The rows, read as they are consumed (once). Empty when the shape is unknown. */
  rows: AsyncIterable<RawRow>;
  shape: Shape | null;
  /** Dataset-level issues; reading `rows` may add more (and set `failed`). */
  issues: DataIssue[];
  /** A dataset-level error came after rows were produced: the import keeps no record. */
  readonly failed: boolean;
  /** Bytes of the data files, and bytes read so far (progress). */
  totalBytes: number;
  readonly bytesRead: number;
}

/** Rows looked at to decide the shape. */
export const LOOKAHEAD = 1000;

export interface DetectOptions {
  /** LLaMA-Factory: which dataset_info.json entry to read when there are several. */
  dataset?: string;
}

const DATA_EXT = /\.(json|jsonl|parquet)$/i;

async function listDataFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && DATA_EXT.test(e.name) && !e.name.startsWith('.') && e.name !== 'dataset_infos.json')
    .map((e) => e.name)
    .sort();
}

/** Does a .json file hold a list at the top level? (Reads its first KiB only.) */
async function startsWithList(abs: string): Promise<boolean> {
  const fh = await fs.open(abs, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(1024), 0, 1024, 0);
    return /^\uFEFF?\s*\[/.test(buffer.subarray(0, bytesRead).toString('utf8'));
  } finally {
    await fh.close();
  }
}

function formatOf(rel: string, shape: Shape | null, first: unknown): DatasetFormat | null {
  if (!shape) return null;
  if (/\.parquet$/i.test(rel)) return 'parquet';
  if (shape.kind === 'sharegpt') return 'llamafactory-sharegpt';
  const jsonl = /\.jsonl$/i.test(rel);
  const trl = isConversational(first) || (isObject(first) && 'images' in first);
  if (trl) return jsonl ? 'trl-jsonl' : 'trl-json';
  return jsonl ? 'silkie-jsonl' : 'silkie-json';
}

async function* chain(baseDir: string, rels: string[], state: ReadState): AsyncGenerator<RawRow> {
  for (const rel of rels) yield* readRows(path.join(baseDir, rel), rel, state);
}

function empty(format: DatasetFormat | null, baseDir: string, files: string[], issues: DataIssue[]): DetectedDataset {
  return { format, baseDir, files, rows: (async function* () {})(), shape: null, issues, failed: false, totalBytes: 0, bytesRead: 0 };
}

/**
 * Opens data files (all in one format) as one stream of rows; without a given shape, reads
 * ahead until a record of a known shape decides it.
 */
async function readFiles(baseDir: string, rels: string[], shape: Shape | null): Promise<DetectedDataset> {
  const state: ReadState = { issues: [], failed: false, bytesRead: 0 };
  let totalBytes = 0;
  for (const rel of rels) totalBytes += (await fs.stat(path.join(baseDir, rel))).size;
  const source = chain(baseDir, rels, state);
  const ahead: RawRow[] = [];
  let found = shape;
  let decider: unknown;
  let firstObject: unknown;
  for (;;) {
    if (found && ahead.length > 0) break;
    if (ahead.length >= LOOKAHEAD) break;
    const next = await source.next();
    if (next.done) break;
    ahead.push(next.value);
    const v = next.value.value;
    if (next.value.error === undefined && isObject(v)) {
      firstObject ??= v;
      const s = found ? null : detectShape(v);
      if (s) {
        found = s;
        decider = v;
      }
    }
  }
  if (!found && ahead.length > 0 && state.issues.length === 0) {
    await source.return(undefined);
    const keys = isObject(firstObject) ? Object.keys(firstObject).slice(0, 12).join(', ') : 'no object records';
    state.issues.push(datasetIssue('unknown-format', rels[0], `has records of an unknown format (none of the first ${Math.min(ahead.length, LOOKAHEAD)} records has one; keys of the first: ${keys}); expected {img_path, prompt, chosen, rejected} (mDPO/Silkie), TRL {images, prompt, chosen, rejected}, or sharegpt {conversations, chosen, rejected, images}`));
  }
  if (ahead.length === 0 && state.issues.length === 0) state.issues.push(datasetIssue('empty-dataset', rels.join(', '), 'holds no records'));
  const rows = found
    ? (async function* () {
        yield* ahead;
        ahead.length = 0;
        yield* source;
      })()
    : (async function* () {})();
  return {
    format: formatOf(rels[0], found, decider ?? firstObject),
    baseDir,
    files: rels,
    rows,
    shape: found,
    issues: state.issues,
    get failed() {
      return state.failed;
    },
    totalBytes,
    get bytesRead() {
      return state.bytesRead;
    },
  };
}

interface InfoEntry {
  file_name?: unknown;
  formatting?: unknown;
  ranking?: unknown;
  columns?: Record<string, unknown>;
  tags?: Record<string, unknown>;
}

/** LLaMA-Factory: dataset_info.json names the file, formatting "sharegpt", ranking true, columns, tags. */
async function readLlamaFactory(baseDir: string, options: DetectOptions): Promise<DetectedDataset> {
  const infoRel = 'dataset_info.json';
  const none = (issue: DataIssue): DetectedDataset => empty('llamafactory-sharegpt', baseDir, [infoRel], [issue]);
  let info: unknown;
  try {
    info = JSON.parse(await fs.readFile(path.join(baseDir, infoRel), 'utf8'));
  } catch (e) {
    return none(datasetIssue('invalid-dataset-info', infoRel, `is not valid JSON (${(e as Error).message})`));
  }
  if (!isObject(info)) return none(datasetIssue('invalid-dataset-info', infoRel, 'is not an object of dataset entries'));
  const ranking = Object.entries(info).filter(([, v]) => isObject(v) && v.ranking === true && (v.formatting ?? 'alpaca') === 'sharegpt');
  let name = options.dataset;
  if (name === undefined) {
    if (ranking.length === 0) return none(datasetIssue('invalid-dataset-info', infoRel, `has no entry with "formatting": "sharegpt" and "ranking": true (entries: ${Object.keys(info).join(', ') || 'none'})`));
    if (ranking.length > 1) return none(datasetIssue('ambiguous-dataset', infoRel, `has several ranking entries (${ranking.map(([n]) => n).join(', ')}); pick one by name`));
    name = ranking[0][0];
  }
  const entry = info[name] as InfoEntry | undefined;
  if (!isObject(entry)) return none(datasetIssue('invalid-dataset-info', infoRel, `has no entry named ${JSON.stringify(name)}`));
  if (entry.ranking !== true || entry.formatting !== 'sharegpt') {
    return none(datasetIssue('invalid-dataset-info', infoRel, `entry ${JSON.stringify(name)} is not a sharegpt ranking dataset ("formatting": ${JSON.stringify(entry.formatting ?? 'alpaca')}, "ranking": ${JSON.stringify(entry.ranking ?? false)})`));
  }
  if (typeof entry.file_name !== 'string' || entry.file_name === '') return none(datasetIssue('invalid-dataset-info', infoRel, `entry ${JSON.stringify(name)} has no "file_name"`));
  const columns: Record<string, unknown> = isObject(entry.columns) ? entry.columns : {};
  const tagMap: Record<string, unknown> = isObject(entry.tags) ? entry.tags : {};
  const col = (k: string, d: string): string => (typeof columns[k] === 'string' ? (columns[k] as string) : d);
  const tag = (k: string, d: string): string => (typeof tagMap[k] === 'string' ? (tagMap[k] as string) : d);
  const tags: MessageTags = {
    roleTag: tag('role_tag', SHAREGPT_TAGS.roleTag),
    contentTag: tag('content_tag', SHAREGPT_TAGS.contentTag),
    userTag: tag('user_tag', SHAREGPT_TAGS.userTag),
    assistantTag: tag('assistant_tag', SHAREGPT_TAGS.assistantTag),
    systemTag: tag('system_tag', SHAREGPT_TAGS.systemTag),
  };
  const shape: Shape = {
    kind: 'sharegpt',
    columns: { messages: col('messages', 'conversations'), chosen: col('chosen', 'chosen'), rejected: col('rejected', 'rejected'), images: col('images', 'images') },
    tags,
  };
  const fileRel = entry.file_name;
  const abs = path.resolve(baseDir, fileRel);
  if (path.relative(baseDir, abs).startsWith('..') || path.isAbsolute(path.relative(baseDir, abs))) {
    return none(datasetIssue('invalid-dataset-info', infoRel, `entry ${JSON.stringify(name)} has file_name ${JSON.stringify(fileRel)} outside the dataset folder`));
  }
  try {
    const st = await fs.stat(abs);
    const rels = st.isDirectory() ? (await listDataFiles(abs)).map((f) => path.join(fileRel, f)) : [fileRel];
    if (rels.length === 0) return none(datasetIssue('invalid-dataset-info', infoRel, `entry ${JSON.stringify(name)}: folder ${fileRel} holds no data file`));
    const d = await readFiles(baseDir, rels, shape);
    return { ...d, format: 'llamafactory-sharegpt' };
  } catch (e) {
    return none(datasetIssue('invalid-dataset-info', infoRel, `entry ${JSON.stringify(name)}: cannot read ${fileRel} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`));
  }
}

const SPLIT = /(?:^|[_.-])(train|test|validation|valid|dev|eval)(?:[_.-]|$)/i;

/** Hugging Face shards (train-00000-of-00002.parquet, test-...): keep train when there are others. */
function trainSplit(rels: string[]): { keep: string[]; skipped: string[] } {
  const split = (r: string): string | undefined => SPLIT.exec(path.basename(r))?.[1]?.toLowerCase();
  const skipped = rels.filter((r) => split(r) !== undefined && split(r) !== 'train');
  if (!rels.some((r) => split(r) === 'train') || skipped.length === 0) return { keep: rels, skipped: [] };
  return { keep: rels.filter((r) => !skipped.includes(r)), skipped };
}

/** Node's error codes for a path, in words. */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: 'does not exist',
  EACCES: 'cannot be read (permission denied)',
  EPERM: 'cannot be read (operation not permitted)',
  ENOTDIR: 'does not exist (a part of the path before the last one is a file, not a folder)',
  ENAMETOOLONG: 'is too long for the file system',
  ELOOP: 'is a loop of symbolic links',
  EIO: 'cannot be read (the disk reported an input/output error)',
};

export async function detectDataset(root: string, options: DetectOptions = {}): Promise<DetectedDataset> {
  if (root.includes('\0')) {
    const shown = JSON.stringify(root).slice(1, -1);
    throw new DatasetError('unreadable-root', root, `Dataset path "${shown}" contains a NUL byte (\\0, at character ${root.indexOf('\0') + 1}); no file or folder name can hold one. Was the path pasted from a binary file or a C string?`);
  }
  let real: string;
  let isDir: boolean;
  try {
    real = await fs.realpath(root);
    isDir = (await fs.stat(real)).isDirectory();
    if (isDir) await fs.readdir(real);
    else await fs.access(real, fs.constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = ERRNO_WORDS[code ?? ''] ?? `cannot be read (${code ?? (e as Error).message})`;
    throw new DatasetError('unreadable-root', root, `Dataset ${root} ${why}`);
  }
  if (!isDir) {
    const baseDir = path.dirname(real);
    const rel = path.basename(real);
    if (rel === 'dataset_info.json') return readLlamaFactory(baseDir, options);
    if (!DATA_EXT.test(rel)) {
      return empty(null, baseDir, [rel], [datasetIssue('unknown-format', rel, 'is not a .json, .jsonl or .parquet file')]);
    }
    return readFiles(baseDir, [rel], null);
  }
  const names = await listDataFiles(real);
  if (names.includes('dataset_info.json')) return readLlamaFactory(real, options);
  let rels = names;
  if (rels.length === 0) {
    // Hugging Face layout: data/train-00000-of-00001.parquet
    try {
      rels = (await listDataFiles(path.join(real, 'data'))).map((f) => path.join('data', f));
    } catch {
      rels = [];
    }
  }
  const none = (issue: DataIssue): DetectedDataset => empty(null, real, rels, [issue]);
  if (rels.length === 0) return none(datasetIssue('unknown-format', '.', `folder ${root} holds no .json, .jsonl or .parquet data file (nor dataset_info.json)`));
  const parquet = rels.filter((r) => /\.parquet$/i.test(r));
  if (parquet.length === rels.length) {
    const { keep, skipped } = trainSplit(parquet);
    const d = await readFiles(real, keep, null);
    for (const f of skipped) {
      d.issues.push({ ...datasetIssue('other-splits-skipped', f, 'skipped: only the train split is imported (pick this file to import it)'), severity: 'note' });
    }
    return d;
  }
  if (rels.length > 1) {
    // Side files such as the built-in world's annotations.json are objects, not record lists.
    const lists: string[] = [];
    for (const r of rels) if (!/\.json$/i.test(r) || (await startsWithList(path.join(real, r)))) lists.push(r);
    const preferred = lists.filter((r) => /^(data|train)\.jsonl?$/i.test(path.basename(r)));
    if (lists.length === 1) rels = lists;
    else if (preferred.length === 1) rels = preferred;
    else return none(datasetIssue('ambiguous-dataset', '.', `folder ${root} holds several data files (${rels.join(', ')}); pick one file`));
  }
  return readFiles(real, rels, null);
}
