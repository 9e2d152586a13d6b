/**
 * A minimal parquet WRITER for test fixtures only (hyparquet reads, nothing here writes, and
 * pyarrow is not available): row groups of a chosen size, one PLAIN-encoded data page per column, no
 * compression; optional columns of strings, int64 and raw bytes, nested in structs (Hugging
 * Face's image feature {bytes, path}) and 3-level LISTs (TRL message lists, image lists), shredded
 * with Dremel repetition/definition levels. Thrift compact protocol for the metadata.
 */

export type LeafType = 'string' | 'bytes' | 'int64';
/** A column: a leaf, a struct of fields, or a list of one element field (its name is unused). */
export type Field = { name: string; type: LeafType } | { name: string; struct: Field[] } | { name: string; list: Field };
export type ColumnSpec = Field;
type Cell = string | Uint8Array | bigint | number | null | undefined;
export type Row = Record<string, unknown>;

class Bytes {
  private parts: number[] = [];
  byte(b: number): void {
    this.parts.push(b & 0xff);
  }
  raw(bs: Uint8Array | number[]): void {
    for (const b of bs) this.parts.push(b);
  }
  varint(v: bigint | number): void {
    let n = BigInt(v);
    while (n >= 0x80n) {
      this.byte(Number(n & 0x7fn) | 0x80);
      n >>= 7n;
    }
    this.byte(Number(n));
  }
  zigzag(v: number | bigint): void {
    const n = BigInt(v);
    this.varint(n >= 0n ? n << 1n : ((-n) << 1n) - 1n);
  }
  u32le(v: number): void {
    this.raw([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff]);
  }
  get length(): number {
    return this.parts.length;
  }
  toUint8(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

// Thrift compact protocol: a field is (id, type, value); structs end with a 0 byte.
type TValue =
  | { t: 'i32'; v: number }
  | { t: 'i64'; v: number | bigint }
  | { t: 'bin'; v: string | Uint8Array }
  | { t: 'list'; elem: 'i32' | 'bin' | 'struct'; v: TValue[] }
  | { t: 'struct'; v: Array<[number, TValue]> };

const TYPE_ID = { i32: 5, i64: 6, bin: 8, list: 9, struct: 12 } as const;

function writeValue(out: Bytes, val: TValue): void {
  switch (val.t) {
    case 'i32':
    case 'i64':
      out.zigzag(val.v);
      return;
    case 'bin': {
      const b = typeof val.v === 'string' ? new TextEncoder().encode(val.v) : val.v;
      out.varint(b.length);
      out.raw(b);
      return;
    }
    case 'list': {
      const n = val.v.length;
      if (n < 15) out.byte((n << 4) | TYPE_ID[val.elem]);
      else {
        out.byte(0xf0 | TYPE_ID[val.elem]);
        out.varint(n);
      }
      for (const e of val.v) writeValue(out, e);
      return;
    }
    case 'struct': {
      let last = 0;
      for (const [id, f] of val.v) {
        const delta = id - last;
        if (delta > 0 && delta <= 15) out.byte((delta << 4) | TYPE_ID[f.t]);
        else {
          out.byte(TYPE_ID[f.t]);
          out.zigzag(id);
        }
        writeValue(out, f);
        last = id;
      }
      out.byte(0);
    }
  }
}

const i32 = (v: number): TValue => ({ t: 'i32', v });
const i64 = (v: number | bigint): TValue => ({ t: 'i64', v });
const bin = (v: string | Uint8Array): TValue => ({ t: 'bin', v });
const struct = (...fields: Array<[number, TValue]>): TValue => ({ t: 'struct', v: fields });

const PARQUET_TYPE = { int64: 2, string: 6, bytes: 6 } as const;
const OPTIONAL = 1;
const REPEATED = 2;
const CONVERTED_UTF8 = 0;
const CONVERTED_LIST = 3;

/** One step from a top-level field down to a leaf; lists contribute their element. */
interface Step {
  field: Field;
  /** Repetition level of this list's items (lists only). */
  rep: number;
}

interface Leaf {
  steps: Step[];
  path: string[];
  type: LeafType;
  maxDef: number;
  maxRep: number;
}

function leaves(fields: Field[]): Leaf[] {
  const out: Leaf[] = [];
  const visit = (field: Field, steps: Step[], path: string[], def: number, rep: number): void => {
    if ('type' in field) {
      out.push({ steps: [...steps, { field, rep }], path: [...path, field.name], type: field.type, maxDef: def + 1, maxRep: rep });
    } else if ('struct' in field) {
      for (const f of field.struct) visit(f, [...steps, { field, rep }], [...path, field.name], def + 1, rep);
    } else {
      // 3-level LIST: optional group <name> (LIST) { repeated group list { <element> } }
      const element = { ...field.list, name: 'element' } as Field;
      visit(element, [...steps, { field, rep: rep + 1 }], [...path, field.name, 'list'], def + 2, rep + 1);
    }
  };
  for (const f of fields) visit(f, [], [], 0, 0);
  return out;
}

/** Dremel shredding of one leaf column: (repetition, definition, value) per level entry. */
function shred(leaf: Leaf, rows: Row[]): Array<{ r: number; d: number; value?: Cell }> {
  const out: Array<{ r: number; d: number; value?: Cell }> = [];
  const walk = (i: number, value: unknown, r: number, d: number): void => {
    if (value === null || value === undefined) {
      out.push({ r, d });
      return;
    }
    const { field, rep } = leaf.steps[i];
    if ('type' in field) out.push({ r, d: d + 1, value: value as Cell });
    else if ('struct' in field) walk(i + 1, (value as Record<string, unknown>)[leaf.steps[i + 1].field.name], r, d + 1);
    else {
      const items = value as unknown[];
      if (items.length === 0) out.push({ r, d: d + 1 });
      items.forEach((item, k) => walk(i + 1, item, k === 0 ? r : rep, d + 2));
    }
  };
  for (const row of rows) walk(0, row[leaf.steps[0].field.name], 0, 0);
  return out;
}

function schemaElements(fields: Field[]): TValue[] {
  const els: TValue[] = [struct([4, bin('schema')], [5, i32(fields.length)])];
  const visit = (f: Field): void => {
    if ('type' in f) {
      els.push(struct([1, i32(PARQUET_TYPE[f.type])], [3, i32(OPTIONAL)], [4, bin(f.name)], ...(f.type === 'string' ? ([[6, i32(CONVERTED_UTF8)]] as Array<[number, TValue]>) : [])));
    } else if ('struct' in f) {
      els.push(struct([3, i32(OPTIONAL)], [4, bin(f.name)], [5, i32(f.struct.length)]));
      f.struct.forEach(visit);
    } else {
      els.push(struct([3, i32(OPTIONAL)], [4, bin(f.name)], [5, i32(1)], [6, i32(CONVERTED_LIST)]));
      els.push(struct([3, i32(REPEATED)], [4, bin('list')], [5, i32(1)]));
      visit({ ...f.list, name: 'element' } as Field);
    }
  };
  fields.forEach(visit);
  return els;
}

/** RLE/bit-packed hybrid with a 4-byte length prefix: one RLE run per entry (simple, valid). */
function levelsBlock(levels: number[], max: number): Uint8Array {
  if (max > 255) throw new Error('levels above 255 are not supported');
  const b = new Bytes();
  for (const v of levels) {
    b.varint(1 << 1); // an RLE run of length 1
    b.byte(v);
  }
  const out = new Bytes();
  out.u32le(b.length);
  out.raw(b.toUint8());
  return out.toUint8();
}

function pageData(leaf: Leaf, entries: Array<{ r: number; d: number; value?: Cell }>): Uint8Array {
  const values = new Bytes();
  for (const { d, value } of entries) {
    if (d !== leaf.maxDef) continue;
    if (leaf.type === 'int64') {
      let n = BigInt.asUintN(64, BigInt(value as number | bigint));
      for (let k = 0; k < 8; k++) {
        values.byte(Number(n & 0xffn));
        n >>= 8n;
      }
    } else {
      const b = typeof value === 'string' ? new TextEncoder().encode(value) : (value as Uint8Array);
      values.u32le(b.length);
      values.raw(b);
    }
  }
  const out = new Bytes();
  if (leaf.maxRep > 0) out.raw(levelsBlock(entries.map((e) => e.r), leaf.maxRep));
  out.raw(levelsBlock(entries.map((e) => e.d), leaf.maxDef));
  out.raw(values.toUint8());
  return out.toUint8();
}

/** Bytes of a parquet file holding `rows` under `columns`, in row groups of `rowGroupSize` rows (default: one). */
export function writeParquet(columns: ColumnSpec[], rows: Row[], rowGroupSize = Math.max(1, rows.length)): Uint8Array {
  const file = new Bytes();
  file.raw(new TextEncoder().encode('PAR1'));
  const groups: TValue[] = [];
  for (let start = 0; start < Math.max(1, rows.length); start += rowGroupSize) {
    const part = rows.slice(start, start + rowGroupSize);
    const chunks: TValue[] = [];
    let total = 0;
    for (const leaf of leaves(columns)) {
      const entries = shred(leaf, part);
      const data = pageData(leaf, entries);
      const header = new Bytes();
      writeValue(header, struct([1, i32(0)], [2, i32(data.length)], [3, i32(data.length)], [5, struct([1, i32(entries.length)], [2, i32(0)], [3, i32(3)], [4, i32(3)])]));
      const offset = file.length;
      file.raw(header.toUint8());
      file.raw(data);
      const size = header.length + data.length;
      total += size;
      const meta = struct(
        [1, i32(PARQUET_TYPE[leaf.type])],
        [2, { t: 'list', elem: 'i32', v: [i32(0), i32(3)] }],
        [3, { t: 'list', elem: 'bin', v: leaf.path.map(bin) }],
        [4, i32(0)],
        [5, i64(entries.length)],
        [6, i64(size)],
        [7, i64(size)],
        [9, i64(offset)],
      );
      chunks.push(struct([2, i64(offset)], [3, meta]));
    }
    groups.push(struct([1, { t: 'list', elem: 'struct', v: chunks }], [2, i64(total)], [3, i64(part.length)]));
  }
  const footer = new Bytes();
  writeValue(
    footer,
    struct(
      [1, i32(1)],
      [2, { t: 'list', elem: 'struct', v: schemaElements(columns) }],
      [3, i64(rows.length)],
      [4, { t: 'list', elem: 'struct', v: groups }],
      [6, bin('mdpo-studio test parquet writer')],
    ),
  );
  file.raw(footer.toUint8());
  file.u32le(footer.length);
  file.raw(new TextEncoder().encode('PAR1'));
  return file.toUint8();
}
