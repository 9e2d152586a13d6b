/**
 * The app's copy of a dataset's valid records (datasets/<id>/records.json): a JSON list, one
 * record a line, written a batch at a time while the dataset is imported, and read back element
 * by element (json-stream.ts), so neither side ever holds the file as one string (V8 caps a
 * string at 2^29 characters, about 540 MB: a million records' file is near that).
 */
import { closeSync, createWriteStream, openSync, readSync, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import { ArraySplitter } from './json-stream';
import type { PreferenceRecord } from './types';

export class RecordsWriter {
  private readonly out: WriteStream;
  private count = 0;
  private failure: Error | null = null;

  constructor(readonly file: string) {
    this.out = createWriteStream(file);
    this.out.on('error', (e) => (this.failure = e));
    this.out.write('[');
  }

  /** Appends records; resolves when the stream can take more. */
  async write(records: readonly PreferenceRecord[]): Promise<void> {
    if (this.failure) throw this.failure;
    if (records.length === 0) return;
    let text = '';
    for (const r of records) text += `${this.count++ === 0 ? '\n' : ',\n'}${JSON.stringify(r)}`;
    if (!this.out.write(text)) await new Promise<void>((done, fail) => {
      this.out.once('drain', done);
      this.out.once('error', fail);
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((done, fail) => {
      this.out.once('error', fail);
      this.out.end('\n]\n', () => done());
    });
    if (this.failure) throw this.failure;
  }
}

/** Parses a records file chunk by chunk. */
class ListParser {
  private readonly splitter = new ArraySplitter();
  readonly values: unknown[] = [];

  constructor(private readonly file: string) {}

  /** False once the structure is broken (call finish for the error). */
  push(chunk: Buffer): boolean {
    for (const piece of this.splitter.push(chunk)) this.values.push(JSON.parse(Buffer.from(piece.bytes.buffer, piece.bytes.byteOffset, piece.bytes.byteLength).toString('utf8')));
    return !this.splitter.problem && !this.splitter.notArray;
  }

  finish(): unknown[] {
    const p = this.splitter.notArray ? { line: 1, column: 1, detail: 'is not a list' } : (this.splitter.problem ?? this.splitter.end());
    if (p) throw new Error(`${this.file}:${p.line}:${p.column}: ${p.detail}`);
    return this.values;
  }
}

const READ_CHUNK = 4 << 20;

/** Every record of a records file, read in 4 MiB chunks (synchronous, for the API's cache). */
export function readRecordsFileSync(file: string): PreferenceRecord[] {
  const fd = openSync(file, 'r');
  try {
    const parser = new ListParser(file);
    for (;;) {
      const buf = Buffer.alloc(READ_CHUNK); // fresh: a record's bytes may span two reads
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0 || !parser.push(buf.subarray(0, n))) break;
    }
    return parser.finish() as PreferenceRecord[];
  } finally {
    closeSync(fd);
  }
}

/** The same, asynchronously (for the trainer's engine). */
export async function readRecordsFile(file: string): Promise<PreferenceRecord[]> {
  const fh = await fs.open(file, 'r');
  try {
    const parser = new ListParser(file);
    for (;;) {
      const buf = Buffer.alloc(READ_CHUNK);
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0 || !parser.push(buf.subarray(0, bytesRead))) break;
    }
    return parser.finish() as PreferenceRecord[];
  } finally {
    await fh.close();
  }
}
