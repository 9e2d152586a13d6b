/**
 * Reading Hugging Face weight files tensor by tensor.
 *
 * A 7B model's shard is several GB: more than one Node Buffer may hold. So we read only the
 * safetensors header first, then each tensor's byte range when it is needed, widening
 * F16/BF16 to float32 (the model computes in float32). Sharded checkpoints are found through
 * model.safetensors.index.json ({"weight_map": {tensor: shard file}}). Every path that a
 * file inside the folder names is checked to stay inside the folder.
 */
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { bf16ToF32, f16ToF32 } from '../model/safetensors';
import { readJsonFile } from '../model/checkpoint';

export { readJsonFile };

export const SINGLE_WEIGHTS = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

type Dtype = 'F32' | 'F16' | 'BF16';
const BYTES: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorEntry {
  /** File the tensor lives in (absolute). */
  file: string;
  dtype: Dtype;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  start: number;
  byteLength: number;
}

/** `name` must name a file inside `dir` (no absolute paths, no `..` escapes, no symlinks out). */
export async function insideFolder(dir: string, name: string, what: string): Promise<string> {
  if (typeof name !== 'string' || name === '' || isAbsolute(name) || name.includes('\0')) {
    throw new Error(`${what}: ${JSON.stringify(name)} is not a relative path inside ${dir}`);
  }
  const root = resolve(dir);
  const full = resolve(root, name);
  const rel = relative(root, full);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new Error(`${what}: ${JSON.stringify(name)} points outside the model folder ${dir}`);
  // Symlinks: compare real paths when the file exists.
  const [realRoot, realFull] = await Promise.all([realpath(root), realpath(full).catch(() => full)]);
  const realRel = relative(realRoot, realFull);
  if (realRel.startsWith('..') || isAbsolute(realRel)) throw new Error(`${what}: ${JSON.stringify(name)} points outside the model folder ${dir}`);
  return full;
}

/** The header of one safetensors file: tensor name -> where its bytes are. */
export async function readHeader(file: string): Promise<Map<string, TensorEntry>> {
  const fh = await open(file, 'r').catch((e: Error) => {
    throw new Error(`Cannot read ${file}: ${e.message}`, { cause: e });
  });
  try {
    const { size } = await fh.stat();
    const lenBuf = Buffer.alloc(8);
    if (size < 8 || (await fh.read(lenBuf, 0, 8, 0)).bytesRead !== 8) throw new Error(`${file}: truncated (${size} bytes)`);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n > size - 8 || n > 100_000_000) throw new Error(`${file}: corrupt header length ${n} (file has ${size} bytes)`);
    const hBuf = Buffer.alloc(n);
    await fh.read(hBuf, 0, n, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hBuf.toString('utf8'));
    } catch (e) {
      throw new Error(`${file}: corrupt header (not JSON): ${(e as Error).message}`, { cause: e });
    }
    const dataStart = 8 + n;
    const out = new Map<string, TensorEntry>();
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') continue;
      const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const dtype = String(info?.dtype);
      if (!(dtype in BYTES)) throw new Error(`${file}: tensor ${name} has dtype ${dtype}; only F32, F16 and BF16 weights load`);
      const shape = info.shape as number[];
      const off = info.data_offsets as [number, number];
      if (!Array.isArray(shape) || !Array.isArray(off) || off.length !== 2) throw new Error(`${file}: tensor ${name} has a bad header entry`);
      const count = shape.reduce((a, b) => a * b, 1);
      const byteLength = off[1] - off[0];
      if (byteLength !== count * BYTES[dtype as Dtype]) throw new Error(`${file}: tensor ${name} ${dtype} [${shape}] needs ${count * BYTES[dtype as Dtype]} bytes, but its data_offsets span ${byteLength}`);
      if (dataStart + off[1] > size) throw new Error(`${file}: truncated: tensor ${name} ends past the end of the file`);
      out.set(name, { file, dtype: dtype as Dtype, shape: [...shape], start: dataStart + off[0], byteLength });
    }
    return out;
  } finally {
    await fh.close();
  }
}

/**
 * Every tensor of a model folder: model.safetensors, or the shards named by
 * model.safetensors.index.json. Returns name -> entry; errors name the file.
 */
export async function indexWeights(dir: string): Promise<{ entries: Map<string, TensorEntry>; files: string[] }> {
  const indexPath = join(dir, SHARD_INDEX);
  const single = join(dir, SINGLE_WEIGHTS);
  let raw: unknown = null;
  try {
    raw = await readJsonFile(indexPath);
  } catch (e) {
    if (!(e as Error).message.startsWith('Cannot read')) throw e;
  }
  if (raw === null) {
    const entries = await readHeader(single).catch((e: Error) => {
      if (e.message.startsWith('Cannot read')) throw new Error(`${dir}: no ${SINGLE_WEIGHTS} and no ${SHARD_INDEX} (only safetensors weights load; convert .bin files with transformers first)`, { cause: e });
      throw e;
    });
    return { entries, files: [single] };
  }
  const map = (raw as { weight_map?: unknown })?.weight_map;
  if (!map || typeof map !== 'object') throw new Error(`${indexPath}: expected a "weight_map" object`);
  const byFile = new Map<string, string[]>();
  for (const [tensor, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== 'string') throw new Error(`${indexPath}: tensor ${tensor} maps to ${JSON.stringify(file)}, not a file name`);
    const list = byFile.get(file) ?? [];
    list.push(tensor);
    byFile.set(file, list);
  }
  const entries = new Map<string, TensorEntry>();
  const files: string[] = [];
  for (const [file, tensors] of byFile) {
    const path = await insideFolder(dir, file, indexPath);
    files.push(path);
    const header = await readHeader(path);
    for (const t of tensors) {
      const e = header.get(t);
      if (!e) throw new Error(`${indexPath}: tensor ${t} is listed in ${file}, but ${path} does not hold it`);
      entries.set(t, e);
    }
  }
  return { entries, files };
}

/** Reads one tensor's values as float32 (F16/BF16 widened). */
export async function readTensor(e: TensorEntry): Promise<Float32Array> {
  const fh = await open(e.file, 'r');
  try {
    const buf = Buffer.alloc(e.byteLength);
    const { bytesRead } = await fh.read(buf, 0, e.byteLength, e.start);
    if (bytesRead !== e.byteLength) throw new Error(`${e.file}: truncated while reading ${e.byteLength} bytes at ${e.start}`);
    return decode(buf, e.dtype);
  } finally {
    await fh.close();
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function decode(buf: Buffer, dtype: Dtype): Float32Array {
  const n = buf.byteLength / BYTES[dtype];
  // Fast paths (little-endian hosts, aligned buffers): a view for F32, a shift for BF16.
  if (LITTLE_ENDIAN && buf.byteOffset % 4 === 0) {
    if (dtype === 'F32') return new Float32Array(buf.buffer, buf.byteOffset, n).slice();
    if (dtype === 'BF16') {
      const half = new Uint16Array(buf.buffer, buf.byteOffset, n);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = half[i] << 16;
      return new Float32Array(bits.buffer);
    }
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Float32Array(n);
  if (dtype === 'F32') for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
  else {
    const conv = dtype === 'F16' ? f16ToF32 : bf16ToF32;
    for (let i = 0; i < n; i++) out[i] = conv(dv.getUint16(i * 2, true));
  }
  return out;
}
