/**
 * A damaged parquet file must come back as an issue, never take the app down. hyparquet sizes
 * its arrays from counts in the footer and in page headers; a corrupt count (a file overwritten
 * in the middle) can ask V8 for an array past its limit, which aborts the process (a fatal
 * error, not an exception). So before decoding, every count and size the reader will trust is
 * checked against the file: row counts, each column chunk's byte range and value count, and
 * each page header inside it, and the run lengths of the run-length encoded levels and
 * dictionary indices in each (uncompressed or snappy) page: hyparquet writes an RLE run without
 * checking it against its output array, so a corrupt run length grows the array until V8
 * aborts. Throws a ParquetDamage naming the row group, column and byte offset.
 */
import { parquetMetadata, parquetSchema, snappyUncompress, type FileMetaData } from 'hyparquet';
import { parquetHeader } from 'hyparquet/src/column.js';
import { getMaxDefinitionLevel, getMaxRepetitionLevel, getTreePath } from 'hyparquet/src/schema.js';

/** Larger counts are refused as damage (V8 aborts near 2^27 array elements). */
export const MAX_PARQUET_COUNT = 1 << 26;

export class ParquetDamage extends Error {
  override name = 'ParquetDamage';
}

/**
 * Walks one Thrift compact-protocol struct from `offset` without building it, checking every
 * length and list size against the bytes left before `end` (hyparquet's reader trusts them and
 * allocates first). Returns the offset after the struct.
 */
export function skimThrift(view: DataView, offset: number, end: number, depth = 0): number {
  let o = offset;
  const byte = (): number => {
    if (o >= end) throw new ParquetDamage(`a Thrift structure that starts at byte ${offset} runs past byte ${end}`);
    return view.getUint8(o++);
  };
  const varint = (): number => {
    let result = 0;
    for (let shift = 0; ; shift += 7) {
      const b = byte();
      if (shift < 35) result += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return result;
      if (shift > 63) throw new ParquetDamage(`a Thrift number at byte ${o} is longer than 10 bytes`);
    }
  };
  const value = (type: number): void => {
    switch (type) {
      case 1: // true
      case 2: // false
        return;
      case 3:
        byte();
        return;
      case 4:
      case 5:
      case 6:
        varint();
        return;
      case 7:
        if (o + 8 > end) throw new ParquetDamage(`a Thrift double at byte ${o} runs past byte ${end}`);
        o += 8;
        return;
      case 8: {
        const at = o;
        const n = varint();
        if (n > end - o) throw new ParquetDamage(`a Thrift string at byte ${at} claims ${n} bytes, more than the ${end - o} left`);
        o += n;
        return;
      }
      case 9: {
        const at = o;
        const head = byte();
        const elem = head & 0x0f;
        const n = head >> 4 === 15 ? varint() : head >> 4;
        if (n > end - o) throw new ParquetDamage(`a Thrift list at byte ${at} claims ${n} elements, more than the ${end - o} bytes left`);
        for (let i = 0; i < n; i++) {
          if (elem === 1 || elem === 2) byte();
          else value(elem);
        }
        return;
      }
      case 12:
        if (depth > 32) throw new ParquetDamage(`Thrift structures nest deeper than 32 at byte ${o}`);
        o = skimThrift(view, o, end, depth + 1);
        return;
      default:
        throw new ParquetDamage(`byte ${o - 1} holds a Thrift field of unknown type ${type}`);
    }
  };
  for (;;) {
    const head = byte();
    const type = head & 0x0f;
    if (type === 0) return o;
    if (head >> 4 === 0) varint(); // a field id that is not a small delta
    value(type);
  }
}

const bitWidth = (max: number): number => 32 - Math.clz32(max);

/**
 * Walks an RLE / bit-packed hybrid run list exactly as hyparquet reads it (its varints are
 * 32-bit, and it reads on until `limit` values, past the declared length if need be, stopping
 * only at the end of the page); an RLE run longer than the values left is damage.
 */
function skimHybrid(view: DataView, o: number, width: number, limit: number, what: string): void {
  let seen = 0;
  while (seen < limit) {
    let header = 0;
    for (let shift = 0; ; shift += 7) {
      if (o >= view.byteLength) return; // hyparquet throws a RangeError here: an ordinary error
      const b = view.getUint8(o++);
      header |= (b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    if (header & 1) {
      const count = (header >> 1) << 3;
      if (count <= 0) return; // hyparquet reads until the page ends and throws
      seen += count;
      o += (count / 8) * width;
    } else {
      const run = header >>> 1;
      if (run > limit - seen) throw new ParquetDamage(`${what}: a run of ${run} values, but only ${limit - seen} of the page's ${limit} are left`);
      seen += run;
      o += (width + 7) >> 3;
    }
  }
}

interface PageContext {
  view: DataView;
  codec: string;
  maxRep: number;
  maxDef: number;
  where: string;
}

/** The run lengths inside one data page (v1 or v2); pages in other codecs are left to the reader. */
function skimPage(ctx: PageContext, header: ReturnType<typeof parquetHeader>, body: number, at: number): void {
  const { view, codec, maxRep, maxDef } = ctx;
  const what = `${ctx.where}: the page at byte ${at}`;
  const size = header.compressed_page_size;
  const decompress = (from: number, length: number, out: number): DataView | null => {
    if (codec === 'UNCOMPRESSED') return new DataView(view.buffer, view.byteOffset + from, length);
    if (codec !== 'SNAPPY') return null;
    const output = new Uint8Array(out);
    try {
      snappyUncompress(new Uint8Array(view.buffer, view.byteOffset + from, length), output);
    } catch (e) {
      throw new ParquetDamage(`${what} does not decompress (${(e as Error).message})`);
    }
    return new DataView(output.buffer);
  };
  const values = (page: DataView, o: number, encoding: string | undefined, n: number, v2: boolean): void => {
    if (encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY') {
      if (o >= page.byteLength) return;
      const width = page.getUint8(o);
      if (width > 0 || v2) skimHybrid(page, o + 1, width, n, `${what} (dictionary indices)`); // v1 reads no run at width 0
    }
  };
  const v1 = header.data_page_header;
  if (v1) {
    const page = decompress(body, size, header.uncompressed_page_size);
    if (!page) return;
    let o = 0;
    for (const max of [maxRep, maxDef]) {
      if (!max) continue;
      if (o + 4 > page.byteLength) throw new ParquetDamage(`${what} ends before its levels`);
      const length = page.getUint32(o, true);
      if (length > page.byteLength - o - 4) throw new ParquetDamage(`${what} claims ${length} bytes of levels, more than the page holds`);
      skimHybrid(page, o + 4, bitWidth(max), v1.num_values, `${what} (${max === maxRep && o === 0 && maxRep ? 'repetition' : 'definition'} levels)`);
      o += 4 + length;
    }
    values(page, o, v1.encoding, v1.num_values, false);
    return;
  }
  const v2 = header.data_page_header_v2;
  if (!v2) return;
  // hyparquet reads v2 levels from a view of the whole (compressed) page.
  const levels = (from: number, _n: number): DataView => new DataView(view.buffer, view.byteOffset + from, size);
  const repBytes = v2.repetition_levels_byte_length;
  const defBytes = v2.definition_levels_byte_length;
  if (!(repBytes >= 0 && defBytes >= 0 && repBytes + defBytes <= size)) throw new ParquetDamage(`${what} claims ${repBytes + defBytes} bytes of levels, more than its ${size}`);
  if (maxRep) skimHybrid(levels(body, repBytes + defBytes), 0, bitWidth(maxRep), v2.num_values, `${what} (repetition levels)`);
  if (maxDef) skimHybrid(levels(body, repBytes + defBytes), repBytes, bitWidth(maxDef), v2.num_values, `${what} (definition levels)`);
  const rest = size - repBytes - defBytes;
  const page = v2.is_compressed === false || rest === 0 ? decompress(body + repBytes + defBytes, rest, rest) : decompress(body + repBytes + defBytes, rest, header.uncompressed_page_size - repBytes - defBytes);
  if (page) values(page, 0, v2.encoding, v2.num_values, true);
}

export function checkParquetFile(file: ArrayBuffer): FileMetaData {
  const size = file.byteLength;
  const view = new DataView(file);
  if (size >= 12 && view.getUint32(size - 4, true) === 0x31524150) {
    const metaLength = view.getUint32(size - 8, true);
    if (metaLength <= size - 12) {
      try {
        skimThrift(view, size - 8 - metaLength, size - 8);
      } catch (e) {
        throw new ParquetDamage(`the footer (metadata) is damaged: ${(e as Error).message}`);
      }
    }
  }
  const metadata = parquetMetadata(file); // its own errors for a missing PAR1 or a bad length
  const count = (v: bigint | number | undefined, what: string): number => {
    const n = Number(v ?? 0);
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_PARQUET_COUNT) throw new ParquetDamage(`${what} is ${String(v)}, not a plausible count`);
    return n;
  };
  count(metadata.num_rows, 'the footer\'s row count');
  const tree = parquetSchema(metadata);
  metadata.row_groups.forEach((group, g) => {
    count(group.num_rows, `row group ${g}'s row count`);
    for (const chunk of group.columns) {
      const meta = chunk.meta_data;
      if (!meta) continue;
      const column = meta.path_in_schema.join('.');
      const where = `row group ${g}, column "${column}"`;
      const values = count(meta.num_values, `${where}: the value count`);
      const schemaPath = getTreePath(tree, meta.path_in_schema);
      const ctx: PageContext = { view, codec: meta.codec, maxRep: schemaPath.length > 1 ? getMaxRepetitionLevel(schemaPath) : 0, maxDef: getMaxDefinitionLevel(schemaPath), where };
      const start = Number(meta.dictionary_page_offset ?? meta.data_page_offset);
      const length = Number(meta.total_compressed_size);
      if (!(start >= 4 && length >= 0 && start + length <= size - 8)) {
        throw new ParquetDamage(`${where}: the footer places its data at bytes ${start}..${start + length}, outside the file's ${size} bytes`);
      }
      const end = start + length;
      const reader = { view, offset: start };
      let seen = 0;
      while (seen < values && reader.offset < end) {
        const at = reader.offset;
        let header: ReturnType<typeof parquetHeader>;
        try {
          skimThrift(view, at, end);
          header = parquetHeader(reader);
        } catch (e) {
          throw new ParquetDamage(`${where}: the page header at byte ${at} cannot be decoded (${(e as Error).message})`);
        }
        const compressed = header.compressed_page_size;
        if (!(compressed >= 0 && reader.offset + compressed <= end)) {
          throw new ParquetDamage(`${where}: the page at byte ${at} claims ${compressed} bytes, past the end of its column chunk (byte ${end})`);
        }
        if (!(header.uncompressed_page_size >= 0 && header.uncompressed_page_size <= 1 << 28)) {
          throw new ParquetDamage(`${where}: the page at byte ${at} claims ${header.uncompressed_page_size} bytes uncompressed`);
        }
        const n = header.data_page_header?.num_values ?? header.data_page_header_v2?.num_values;
        if (n !== undefined) {
          if (!(n >= 0 && n <= values - seen)) throw new ParquetDamage(`${where}: the page at byte ${at} claims ${n} values, but only ${values - seen} of the chunk's ${values} are left`);
          seen += n;
        }
        if (n !== undefined) skimPage(ctx, header, reader.offset, at);
        const dict = header.dictionary_page_header?.num_values;
        if (dict !== undefined) count(dict, `${where}: the dictionary page at byte ${at}'s value count`);
        reader.offset += compressed;
      }
      if (seen < values) throw new ParquetDamage(`${where}: its pages hold ${seen} of the ${values} values the footer promises`);
    }
  });
  return metadata;
}
