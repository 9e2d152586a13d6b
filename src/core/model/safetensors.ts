/**
 * The safetensors format (huggingface/safetensors), read and written for real:
 * [u64 little-endian header length N][N bytes of JSON header][data], where the header maps each
 * tensor name to {dtype, shape, data_offsets: [begin, end)} relative to the data start, plus an
 * optional "__metadata__" of string -> string. The header is padded with spaces to a multiple
 * of 8 bytes so the data is aligned.
 *
 * F16 and BF16 are widened to float32 on load (the model computes in float32); I64 is narrowed
 * to int32 with a range check. Errors name the file and the tensor.
 */

export type SafeDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';

export interface NamedTensor {
  /** Stored dtype on disk (what to write as, or what was read). */
  dtype: SafeDtype;
  shape: number[];
  /** Float types load as Float32Array, integer types as Int32Array. */
  data: Float32Array | Int32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, NamedTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafeDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

// ---- half-precision conversions ---------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** Round-to-nearest-even float32 -> bfloat16 bits (NaN stays NaN). */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  if ((bits & 0x7fffffff) > 0x7f800000) return 0x7fc0;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** float32 -> IEEE half bits, round to nearest even, overflow to Inf. */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return sign | half;
}

// ---- writing -------------------------------------------------------------------------------

function encodeData(name: string, t: NamedTensor): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) throw new SafetensorsError(`Tensor ${name}: shape [${t.shape}] needs ${n} values, but got ${t.data.length}`);
  const out = new Uint8Array(n * BYTES[t.dtype]);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const x = t.data[i];
    switch (t.dtype) {
      case 'F32': dv.setFloat32(i * 4, x, true); break;
      case 'F16': dv.setUint16(i * 2, f32ToF16(x), true); break;
      case 'BF16': dv.setUint16(i * 2, f32ToBf16(x), true); break;
      case 'I32': dv.setInt32(i * 4, x, true); break;
      case 'I64': dv.setBigInt64(i * 8, BigInt(Math.trunc(x)), true); break;
    }
  }
  return out;
}

/** Serialises tensors (in the given order) and metadata to safetensors bytes. */
export function encodeSafetensors(tensors: Map<string, NamedTensor> | [string, NamedTensor][], metadata: Record<string, string> = {}): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : tensors;
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new SafetensorsError('A tensor may not be named __metadata__');
    if (!(t.dtype in BYTES)) throw new SafetensorsError(`Tensor ${name}: unsupported dtype ${t.dtype}`);
    const bytes = encodeData(name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    blobs.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const raw = new TextEncoder().encode(json).length;
  json += ' '.repeat((8 - (raw % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const b of blobs) {
    out.set(b, pos);
    pos += b.length;
  }
  return out;
}

// ---- reading -------------------------------------------------------------------------------

/** Parses safetensors bytes; `file` only names the source in errors. */
export function decodeSafetensors(bytes: Uint8Array, file = '<buffer>'): SafetensorsFile {
  const fail = (msg: string) => new SafetensorsError(`${file}: ${msg}`);
  if (bytes.length < 8) throw fail(`truncated: ${bytes.length} bytes, not even the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(dv.getBigUint64(0, true));
  if (n > bytes.length - 8) throw fail(`truncated or corrupt: header length ${n} but only ${bytes.length - 8} bytes follow`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw fail(`corrupt header (not JSON): ${(e as Error).message}`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw fail('corrupt header: expected a JSON object');
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, NamedTensor>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [k, v] of Object.entries((raw ?? {}) as Record<string, unknown>)) metadata[k] = String(v);
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info?.dtype as SafeDtype;
    if (!(typeof dtype === 'string' && dtype in BYTES)) {
      throw fail(`tensor ${name}: unsupported dtype ${String(info?.dtype)} (supported: ${Object.keys(BYTES).join(', ')})`);
    }
    const shape = info.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) throw fail(`tensor ${name}: bad shape ${JSON.stringify(shape)}`);
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0]) {
      throw fail(`tensor ${name}: bad data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * BYTES[dtype]) {
      throw fail(`tensor ${name}: ${dtype} [${shape}] needs ${count * BYTES[dtype]} bytes, but data_offsets span ${end - begin}`);
    }
    if (end > dataLen) throw fail(`truncated: tensor ${name} ends at byte ${end} of the data, but the data has ${dataLen} bytes`);
    tensors.set(name, { dtype, shape: shape as number[], data: decodeData(dv, dataStart + begin, count, dtype, name, fail) });
  }
  return { tensors, metadata };
}

function decodeData(dv: DataView, start: number, n: number, dtype: SafeDtype, name: string, fail: (m: string) => Error): Float32Array | Int32Array {
  switch (dtype) {
    case 'F32': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(start + i * 4, true);
      return out;
    }
    case 'F16':
    case 'BF16': {
      const out = new Float32Array(n);
      const conv = dtype === 'F16' ? f16ToF32 : bf16ToF32;
      for (let i = 0; i < n; i++) out[i] = conv(dv.getUint16(start + i * 2, true));
      return out;
    }
    case 'I32': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(start + i * 4, true);
      return out;
    }
    case 'I64': {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = dv.getBigInt64(start + i * 8, true);
        if (v > 2147483647n || v < -2147483648n) throw fail(`tensor ${name}: I64 value ${v} does not fit in int32`);
        out[i] = Number(v);
      }
      return out;
    }
  }
}
