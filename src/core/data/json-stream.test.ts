import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { ArraySplitter, fieldAt, firstInvalidUtf8, LineSplitter, lineColumn, locateJsonError, type Piece } from './json-stream';

/** Feeds `text` in chunks of `size` bytes; returns the pieces (as text) and the problem. */
function split(text: string | Buffer, size: number): { pieces: Array<[string, number, number, number]>; problem: string | null; notArray: boolean } {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const s = new ArraySplitter();
  const out: Piece[] = [];
  for (let i = 0; i < bytes.length && !s.problem && !s.notArray; i += size) out.push(...s.push(bytes.subarray(i, i + size)));
  const p = s.problem ?? s.end();
  return { pieces: out.map((p) => [Buffer.from(p.bytes).toString('utf8'), p.line, p.column, p.offset]), problem: p ? `${p.line}:${p.column} ${p.detail}` : null, notArray: s.notArray };
}

describe('ArraySplitter', () => {
  const text = '\uFEFF[\n {"a": "[x, {y}]"},\n\n {"b": [1,\n 2]}, 3,\n "s\\"]", "é"  , null]\n';
  const want: Array<[string, number, number, number]> = [
    ['{"a": "[x, {y}]"}', 2, 2, 6],
    ['{"b": [1,\n 2]}', 4, 2, 27],
    ['3', 5, 7, 43],
    ['"s\\"]"', 6, 2, 47],
    ['"é"', 6, 10, 55],
    ['null', 6, 17, 63],
  ];
  it('finds every element with its line, column and byte offset, whatever the chunk size', () => {
    for (const size of [1, 2, 3, 7, 64, 1 << 20]) expect(split(text, size)).toEqual({ pieces: want, problem: null, notArray: false });
    expect(split('[]', 1)).toEqual({ pieces: [], problem: null, notArray: false });
    expect(split('{"a": 1}', 4).notArray).toBe(true);
  });

  it('names line and column of structural errors', () => {
    expect(split('[\n {"a": 1},\n]', 5).problem).toBe('3:1 expected a value after ","; a trailing comma is not JSON');
    expect(split('[{"a": 1} {"b": 2}]', 5).problem).toBe('1:11 expected "," or "]" after a record, found "{"');
    expect(split('[{"a": [1, 2}]', 3).problem).toMatch(/^1:13 unexpected "}": expected "]" to close the list/);
    expect(split('[\n {"a": "x', 3).problem).toBe('2:10 ends inside the record that starts at line 2, column 2, inside a string (cut off?)');
    expect(split('[{"a": 1}', 3).problem).toBe('1:10 ends without the closing "]" of the list (cut off?)');
    expect(split('[1] x', 2).problem).toBe('1:5 unexpected "x" after the end of the list');
    expect(split('', 2).problem).toBe('1:1 is empty (expected a list of records)');
  });
});

describe('LineSplitter', () => {
  it('splits lines across chunks, skipping blank lines, CR and a BOM', () => {
    const bytes = Buffer.from('\uFEFF{"a":1}\r\n\n  \n{"b":"é"}\n{"c":3}', 'utf8');
    for (const size of [1, 3, 1 << 20]) {
      const s = new LineSplitter();
      const out: Piece[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...s.push(bytes.subarray(i, i + size)));
      out.push(...s.end());
      expect(out.map((p) => [Buffer.from(p.bytes).toString('utf8'), p.line, p.offset])).toEqual([['{"a":1}', 1, 3], ['{"b":"é"}', 4, 16], ['{"c":3}', 5, 27]]);
    }
  });
});

describe('UTF-8 checks', () => {
  it('firstInvalidUtf8 agrees with Node on every 1- and 2-byte sequence and on random bytes', () => {
    const disagree: string[] = [];
    const check = (buf: Buffer): void => {
      if ((firstInvalidUtf8(buf) === -1) !== isUtf8(buf)) disagree.push(buf.toString('hex'));
    };
    for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) check(Buffer.from([a, b]));
    for (const lead of [0xe0, 0xed, 0xef, 0xf0, 0xf4]) for (let b = 0x80; b < 0xc0; b++) for (const c of [0x41, 0x80, 0xbf, 0xc0]) check(Buffer.from([lead, b, c, 0x80]));
    let seed = 7;
    for (let k = 0; k < 20000; k++) {
      const buf = Buffer.alloc(6);
      for (let i = 0; i < 6; i++) buf[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
      check(buf);
    }
    expect(disagree).toEqual([]);
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xe2, 0x82, 0xac, 0xed, 0xa0, 0x80]))).toBe(4); // a surrogate
    expect(firstInvalidUtf8(Buffer.from([0x61, 0xf0, 0x9f, 0x98]))).toBe(1); // cut off
  });

  it('fieldAt names the top-level field holding a byte', () => {
    const rec = Buffer.from('{"prompt": "ok", "chosen": [{"content": "bad here"}], "x": 1}', 'latin1');
    const at = rec.indexOf('bad');
    expect(fieldAt(rec, at)).toEqual({ field: 'chosen', valueStart: 27 });
    expect(fieldAt(rec, 13)).toEqual({ field: 'prompt', valueStart: 11 });
    expect(fieldAt(rec, 2)).toBeUndefined();
  });
});

describe('locateJsonError', () => {
  it('finds the offset V8 does not always give', () => {
    const cases: Array<[string, number, string]> = [
      ['{"a": oops}', 6, 'expected a value, found "o"'],
      ['{"a": 1,}', 8, 'expected a double-quoted field name, found "}"'],
      ['{"a" 1}', 5, 'expected ":" after a field name, found "1"'],
      ['{"a": NaN}', 6, 'NaN is not JSON (Python writes it for a float that is not finite)'],
      ['{"a": "x\ny"}', 8, 'a string runs past the end of its line (missing closing quote?)'],
      ['[1, 2', 5, 'expected "," or "]" in a list, found the end of the text'],
      ['{"a": "\\q"}', 7, 'invalid escape \\q in a string'],
    ];
    for (const [text, offset, detail] of cases) {
      expect(() => JSON.parse(text)).toThrow();
      expect(locateJsonError(text)).toEqual({ offset, detail });
    }
    expect(lineColumn('ab\ncd', 4, 10, 3)).toEqual({ line: 11, column: 2 });
  });
});

describe('records file (RecordsWriter, readRecordsFile, readRecordsFileSync)', () => {
  it('writes batches as one JSON list and reads it back element by element, naming a broken file', async () => {
    const { mkdtemp, rm, writeFile, readFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { RecordsWriter, readRecordsFile, readRecordsFileSync } = await import('./records-file');
    const dir = await mkdtemp(join(tmpdir(), 'mdpo-records-'));
    try {
      const file = join(dir, 'records.json');
      const w = new RecordsWriter(file);
      const all: Array<Record<string, unknown>> = [];
      for (let b = 0; b < 3; b++) {
        const batch = Array.from({ length: 4 }, (_, k) => ({ index: b * 4 + k, prompt: `q "${b}" ] } [ {`, chosen: 'é\n', rejected: 'no' }));
        all.push(...batch);
        await w.write(batch as never);
      }
      await w.write([]);
      await w.close();
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(all);
      expect(readRecordsFileSync(file)).toEqual(all);
      expect(await readRecordsFile(file)).toEqual(all);
      const empty = join(dir, 'empty.json');
      const e = new RecordsWriter(empty);
      await e.close();
      expect(readRecordsFileSync(empty)).toEqual([]);
      await writeFile(join(dir, 'cut.json'), '[\n{"index": 0},\n{"index"');
      expect(() => readRecordsFileSync(join(dir, 'cut.json'))).toThrow(`${join(dir, 'cut.json')}:3:9: ends inside the record that starts at line 3, column 1 (cut off?)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
