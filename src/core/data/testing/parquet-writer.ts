/**
 * A minimal parquet WRITER for test fixtures only (hyparquet reads, nothing here writes, and
 * pyarrow is not available): one row group, one PLAIN-encoded data page per column, no
 * compression, optional columns of strings, int64, raw bytes, and one-level structs such as
 * Hugging Face's image feature {bytes, path}. Thrift compact protocol for the metadata.
 */

export type LeafType = 'string' | 'bytes' | 'int64';
export type ColumnSpec = { name: string; type: LeafType } | { name: string; struct: Array<{ name: string; type: LeafType }> };
type Cell = string | Uint8Array | bigint | number | null | undefined;
export type Row = Record<string, Cell | Record<string, Cell>>;

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

interface Leaf {
  path: string[];
  type: LeafType;
  maxDef: number;
  get(row: Row): { def: number; value?: Cell };
}

function leaves(columns: ColumnSpec[]): Leaf[] {
  const out: Leaf[] = [];
  for (const c of columns) {
    if ('type' in c) {
      out.push({ path: [c.name], type: c.type, maxDef: 1, get: (r) => (r[c.name] == null ? { def: 0 } : { def: 1, value: r[c.name] as Cell }) });
    } else {
      for (const f of c.struct) {
        out.push({
          path: [c.name, f.name],
          type: f.type,
          maxDef: 2,
          get: (r) => {
            const s = r[c.name] as Record<string, Cell> | null | undefined;
            if (s == null) return { def: 0 };
            return s[f.name] == null ? { def: 1 } : { def: 2, value: s[f.name] };
          },
        });
      }
    }
  }
  return out;
}

function schemaElements(columns: ColumnSpec[]): TValue[] {
  const leafEl = (name: string, type: LeafType): TValue =>
    struct([1, i32(PARQUET_TYPE[type])], [3, i32(OPTIONAL)], [4, bin(name)], ...(type === 'string' ? ([[6, i32(0)]] as Array<[number, TValue]>) : []));
  const els: TValue[] = [struct([4, bin('schema')], [5, i32(columns.length)])];
  for (const c of columns) {
    if ('type' in c) els.push(leafEl(c.name, c.type));
    else {
      els.push(struct([3, i32(OPTIONAL)], [4, bin(c.name)], [5, i32(c.struct.length)]));
      for (const f of c.struct) els.push(leafEl(f.name, f.type));
    }
  }
  return els;
}

function pageData(leaf: Leaf, rows: Row[]): Uint8Array {
  const levels = new Bytes();
  const values = new Bytes();
  const width = Math.ceil(Math.log2(leaf.maxDef + 1));
  for (const row of rows) {
    const { def, value } = leaf.get(row);
    levels.varint(1 << 1); // an RLE run of length 1
    levels.byte(def);
    if (width > 8) throw new Error('definition levels wider than 8 bits are not supported');
    if (def !== leaf.maxDef) continue;
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
  out.u32le(levels.length);
  out.raw(levels.toUint8());
  out.raw(values.toUint8());
  return out.toUint8();
}

/** Bytes of a parquet file holding `rows` under `columns`. */
export function writeParquet(columns: ColumnSpec[], rows: Row[]): Uint8Array {
  const file = new Bytes();
  file.raw(new TextEncoder().encode('PAR1'));
  const chunks: TValue[] = [];
  let total = 0;
  for (const leaf of leaves(columns)) {
    const data = pageData(leaf, rows);
    const header = new Bytes();
    writeValue(header, struct([1, i32(0)], [2, i32(data.length)], [3, i32(data.length)], [5, struct([1, i32(rows.length)], [2, i32(0)], [3, i32(3)], [4, i32(3)])]));
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
      [5, i64(rows.length)],
      [6, i64(size)],
      [7, i64(size)],
      [9, i64(offset)],
    );
    chunks.push(struct([2, i64(offset)], [3, meta]));
  }
  const footer = new Bytes();
  writeValue(
    footer,
    struct(
      [1, i32(1)],
      [2, { t: 'list', elem: 'struct', v: schemaElements(columns) }],
      [3, i64(rows.length)],
      [4, { t: 'list', elem: 'struct', v: [struct([1, { t: 'list', elem: 'struct', v: chunks }], [2, i64(total)], [3, i64(rows.length)])] }],
      [6, bin('mdpo-studio test parquet writer')],
    ),
  );
  file.raw(footer.toUint8());
  file.u32le(footer.length);
  file.raw(new TextEncoder().encode('PAR1'));
  return file.toUint8();
}
