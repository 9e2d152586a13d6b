/**
 * Byte-level splitting of JSON data files, so a file of any size is read in chunks and parsed
 * one record at a time (JSON.parse per record, never per file):
 * - ArraySplitter: a top-level JSON array, element by element, with each element's line, column
 *   and byte offset. It checks the structure between elements and the bracket nesting inside
 *   them; the element's own text is checked by JSON.parse later, so a bad token inside one
 *   element costs that element only.
 * - LineSplitter: JSONL, line by line.
 * Columns count characters (UTF-8 continuation bytes are not counted), 1-based like lines.
 */

const NL = 0x0a;
const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isContinuation = (c: number): boolean => (c & 0xc0) === 0x80;

/** A piece of the file: an array element or a JSONL line, still as bytes. */
export interface Piece {
  bytes: Uint8Array;
  /** 1-based line and column of the piece's first byte. */
  line: number;
  column: number;
  /** Byte offset of the first byte in the file. */
  offset: number;
}

/** A structural error: where, and what was expected. */
export interface SyntaxProblem {
  line: number;
  column: number;
  detail: string;
}

type Mode = 'start' | 'first' | 'element' | 'after' | 'next' | 'done' | 'failed';

const CLOSER: Record<number, number> = { 0x5b: 0x5d, 0x7b: 0x7d };

function show(c: number): string {
  return c >= 0x20 && c < 0x7f ? `"${String.fromCharCode(c)}"` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/**
 * Splits a top-level JSON array into its elements. push() returns the elements completed by a
 * chunk; end() returns the last problem (or null). After a problem, nothing more is returned:
 * `problem` says where the structure broke. `notArray` is set when the file does not start with [.
 */
export class ArraySplitter {
  problem: SyntaxProblem | null = null;
  notArray = false;
  private mode: Mode = 'start';
  private line = 1;
  private column = 0;
  private offset = 0;
  private stack: number[] = [];
  private inString = false;
  private escaped = false;
  private parts: Uint8Array[] = [];
  private start: Piece | null = null;
  /** A bare scalar element (number, true, false, null) ends at the next delimiter. */
  private scalar = false;

  push(chunk: Uint8Array): Piece[] {
    const out: Piece[] = [];
    if (this.mode === 'failed') return out;
    // The hot loop works on locals (written back at the end): a JSON list of a million
    // records is scanned byte by byte.
    let mode = this.mode;
    let line = this.line;
    let column = this.column;
    let inString = this.inString;
    let escaped = this.escaped;
    const stack = this.stack;
    let pieceStart = mode === 'element' ? 0 : -1;
    const n = chunk.length;
    let i = 0;
    for (; i < n; i++) {
      const c = chunk[i];
      if (c === NL) {
        line++;
        column = 0;
      } else if ((c & 0xc0) !== 0x80) column++;
      if (mode === 'element') {
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 0x5c) escaped = true;
          else if (c === 0x22) {
            inString = false;
            if (stack.length === 0) {
              this.emit(out, chunk, pieceStart, i + 1);
              mode = 'after';
            }
          }
          continue;
        }
        if (this.scalar) {
          if (isWs(c) || c === 0x2c || c === 0x5d) {
            // The delimiter is not part of the element.
            this.emit(out, chunk, pieceStart, i);
            mode = c === 0x2c ? 'next' : c === 0x5d ? 'done' : 'after';
          }
          continue;
        }
        if (c === 0x22) inString = true;
        else if (c === 0x5b || c === 0x7b) stack.push(CLOSER[c]);
        else if (c === 0x5d || c === 0x7d) {
          const want = stack.pop();
          if (want !== c) {
            this.fail(line, column, `unexpected ${show(c)}: expected ${want === undefined ? 'nothing' : show(want)} to close the ${want === 0x5d ? 'list' : 'object'} opened earlier in this record (line ${this.start?.line})`);
            return out;
          }
          if (stack.length === 0) {
            this.emit(out, chunk, pieceStart, i + 1);
            mode = 'after';
          }
        }
        continue;
      }
      if (mode === 'after') {
        if (isWs(c)) continue;
        if (c === 0x2c) mode = 'next';
        else if (c === 0x5d) mode = 'done';
        else {
          this.fail(line, column, `expected "," or "]" after a record, found ${show(c)}`);
          return out;
        }
        continue;
      }
      if (mode === 'first' || mode === 'next') {
        if (isWs(c)) continue;
        if (c === 0x5d) {
          if (mode === 'next') {
            this.fail(line, column, 'expected a value after ","; a trailing comma is not JSON');
            return out;
          }
          mode = 'done';
          continue;
        }
        if (c === 0x2c || c === 0x7d) {
          this.fail(line, column, `expected a value, found ${show(c)}`);
          return out;
        }
        mode = 'element';
        this.start = { bytes: new Uint8Array(0), line, column, offset: this.offset + i };
        this.parts = [];
        pieceStart = i;
        stack.length = 0;
        this.scalar = false;
        if (c === 0x22) inString = true;
        else if (c === 0x5b || c === 0x7b) stack.push(CLOSER[c]);
        else this.scalar = true;
        continue;
      }
      if (mode === 'start') {
        if (this.offset + i < 3 && (c === 0xef || c === 0xbb || c === 0xbf)) continue; // UTF-8 BOM
        if (isWs(c)) continue;
        if (c !== 0x5b) {
          this.notArray = true;
          this.mode = 'failed';
          return out;
        }
        mode = 'first';
        continue;
      }
      if (mode === 'done' && !isWs(c)) {
        this.fail(line, column, `unexpected ${show(c)} after the end of the list`);
        return out;
      }
    }
    if (mode === 'element' && pieceStart >= 0) this.parts.push(chunk.subarray(pieceStart));
    this.mode = mode;
    this.line = line;
    this.column = column;
    this.inString = inString;
    this.escaped = escaped;
    this.offset += n;
    return out;
  }

  private fail(line: number, column: number, detail: string): void {
    this.problem = { line, column: Math.max(1, column), detail };
    this.mode = 'failed';
  }

  private emit(out: Piece[], chunk: Uint8Array, from: number, to: number): void {
    const start = this.start as Piece;
    const last = chunk.subarray(Math.max(0, from), to);
    const bytes = this.parts.length === 0 ? last : Buffer.concat([...this.parts, last]);
    out.push({ ...start, bytes });
    this.parts = [];
    this.start = null;
  }

  /** Call at the end of the file: the problem, if the list is not complete. */
  end(): SyntaxProblem | null {
    if (this.problem || this.notArray) return this.problem;
    const at = { line: this.line, column: this.column + 1 };
    if (this.mode === 'start') this.problem = { ...at, detail: 'is empty (expected a list of records)' };
    else if (this.mode === 'element' && this.scalar) this.problem = { ...at, detail: 'ends without the closing "]" of the list (cut off?)' };
    else if (this.mode === 'element') {
      this.problem = { ...at, detail: `ends inside the record that starts at line ${this.start?.line}, column ${this.start?.column}${this.inString ? ', inside a string' : ''} (cut off?)` };
    } else if (this.mode !== 'done') this.problem = { ...at, detail: 'ends without the closing "]" of the list (cut off?)' };
    return this.problem;
  }
}

/** Splits JSONL into lines (a piece per non-blank line; "\r\n" endings and blank lines skipped). */
export class LineSplitter {
  private line = 1;
  private offset = 0;
  private carry: Uint8Array[] = [];
  private carryOffset = 0;

  push(chunk: Uint8Array): Piece[] {
    const out: Piece[] = [];
    let from = 0;
    for (let nl = chunk.indexOf(NL); nl !== -1; nl = chunk.indexOf(NL, nl + 1)) {
      const part = chunk.subarray(from, nl);
      if (this.carry.length > 0) {
        this.piece(out, Buffer.concat([...this.carry, part]), this.carryOffset);
        this.carry = [];
      } else this.piece(out, part, this.offset + from);
      this.line++;
      from = nl + 1;
    }
    if (from < chunk.length) {
      if (this.carry.length === 0) this.carryOffset = this.offset + from;
      this.carry.push(chunk.subarray(from));
    }
    this.offset += chunk.length;
    return out;
  }

  end(): Piece[] {
    const out: Piece[] = [];
    if (this.carry.length > 0) this.piece(out, Buffer.concat(this.carry), this.carryOffset);
    this.carry = [];
    return out;
  }

  private piece(out: Piece[], bytes: Uint8Array, offset: number): void {
    let a = 0;
    let z = bytes.length;
    if (this.line === 1 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) a = 3; // BOM
    while (a < z && isWs(bytes[a])) a++;
    while (z > a && isWs(bytes[z - 1])) z--;
    if (a === z) return;
    out.push({ bytes: bytes.subarray(a, z), line: this.line, column: a + 1, offset: offset + a });
  }
}

/** Offset of the first byte that is not part of a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      if (c === 0xed) hi = 0x9f; // no UTF-16 surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= b.length) return i; // cut off at the end
    if (b[i + 1] < lo || b[i + 1] > hi) return i;
    for (let k = 2; k <= need; k++) if (!isContinuation(b[i + k])) return i;
    i += need + 1;
  }
  return -1;
}

/**
 * The top-level key of an object record whose value holds byte `at` (for invalid UTF-8),
 * and the offset where that value starts. Undefined when `at` is not inside a value.
 */
export function fieldAt(b: Uint8Array, at: number): { field: string; valueStart: number } | undefined {
  let depth = 0;
  let inString = false;
  let stringStart = 0;
  let lastString = '';
  let field: string | undefined;
  let valueStart = 0;
  for (let i = 0; i < at && i < b.length; i++) {
    const c = b[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) {
        inString = false;
        if (depth === 1) lastString = Buffer.from(b.subarray(stringStart, i)).toString('utf8');
      }
      continue;
    }
    if (c === 0x22) {
      inString = true;
      stringStart = i + 1;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x3a && depth === 1) {
      field = lastString;
      valueStart = i + 1;
      while (valueStart < b.length && isWs(b[valueStart])) valueStart++;
    } else if (c === 0x2c && depth === 1) field = undefined;
  }
  return field === undefined ? undefined : { field, valueStart };
}

/**
 * Where JSON.parse would fail in `text`, found by a small validating scan (V8's messages do not
 * always carry a position): the offset and what was expected there.
 */
export function locateJsonError(text: string): { offset: number; detail: string } {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const problem = (detail: string): never => {
    throw { offset: i, detail };
  };
  const found = (): string => (i >= text.length ? 'the end of the text' : JSON.stringify(text[i]));
  const literal = (word: string): void => {
    if (text.startsWith(word, i)) i += word.length;
    else problem(`expected a value, found ${found()}`);
  };
  const str = (): void => {
    i++; // opening quote
    while (i < text.length) {
      const ch = text[i];
      if (ch === '"') {
        i++;
        return;
      }
      if (ch === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) problem('a \\u escape needs four hex digits');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else problem(`invalid escape \\${e ?? ''} in a string`);
      } else if (ch < ' ') problem(ch === '\n' ? 'a string runs past the end of its line (missing closing quote?)' : 'a control character inside a string must be escaped');
      else i++;
    }
    problem('a string is not closed (missing closing quote)');
  };
  const num = (): void => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) problem(`expected a value, found ${found()}`);
    else i += m[0].length;
  };
  const value = (): void => {
    ws();
    const ch = text[i];
    if (ch === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') problem(`expected a double-quoted field name, found ${found()}`);
        str();
        ws();
        if (text[i] !== ':') problem(`expected ":" after a field name, found ${found()}`);
        i++;
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return;
        }
        problem(`expected "," or "}" in an object, found ${found()}`);
      }
    } else if (ch === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return;
        }
        problem(`expected "," or "]" in a list, found ${found()}`);
      }
    } else if (ch === '"') str();
    else if (ch === 't') literal('true');
    else if (ch === 'f') literal('false');
    else if (ch === 'n') literal('null');
    else if (ch === 'N' || ch === 'I') problem(`${text.startsWith('NaN', i) ? 'NaN' : 'Infinity'} is not JSON (Python writes it for a float that is not finite)`);
    else num();
  };
  try {
    value();
    ws();
    if (i < text.length) problem(`unexpected ${found()} after the value`);
    return { offset: text.length, detail: 'not valid JSON' };
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'offset' in e) return e as { offset: number; detail: string };
    throw e;
  }
}

/** Line and column (1-based) of `offset` in `text`, for a text that starts at (line, column). */
export function lineColumn(text: string, offset: number, line = 1, column = 1): { line: number; column: number } {
  let l = line;
  let c = column;
  for (let k = 0; k < offset && k < text.length; k++) {
    if (text.charCodeAt(k) === 10) {
      l++;
      c = 1;
    } else c++;
  }
  return { line: l, column: c };
}
