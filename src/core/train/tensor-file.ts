/**
 * Named float32 tensors to and from a file, for checkpoints.
 *
 * TODO(model): switch to src/core/model/safetensors.ts once it lands; until then a minimal
 * writer/reader of the same safetensors layout (8-byte little-endian header length, JSON
 * header {name: {dtype, shape, data_offsets}}, raw little-endian data), F32 only.
 */
import { promises as fs } from 'node:fs';

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export function encodeTensors(tensors: Record<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  const names = Object.keys(tensors);
  for (const name of names) {
    const { shape, data } = tensors[name];
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`Tensor ${name}: shape [${shape}] needs ${size} values, but got ${data.length}`);
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad the header with spaces so the data starts 8-byte aligned (as the reference writer does).
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

export function decodeTensors(bytes: Uint8Array, what = 'tensor file'): Record<string, NamedArray> {
  if (bytes.length < 8) throw new Error(`${what}: too short to be a safetensors file (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) throw new Error(`${what}: header length ${headerLength} runs past the end of the file`);
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLength)).toString('utf8')) as Record<string, unknown>;
  const base = 8 + headerLength;
  const out: Record<string, NamedArray> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: [start, end] } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (dtype !== 'F32') throw new Error(`${what}: tensor ${name} has dtype ${dtype}; checkpoints hold F32 only`);
    if (base + end > bytes.length) throw new Error(`${what}: tensor ${name} runs past the end of the file`);
    // Copy: the slice may not be 4-byte aligned in the file buffer.
    const data = new Float32Array(bytes.slice(base + start, base + end).buffer);
    out[name] = { shape, data };
  }
  return out;
}

export async function readTensorFile(path: string): Promise<Record<string, NamedArray>> {
  return decodeTensors(new Uint8Array(await fs.readFile(path)), path);
}
