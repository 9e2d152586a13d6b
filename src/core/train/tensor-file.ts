/**
 * Named float32 tensors to and from checkpoint files, through the model's safetensors codec
 * (src/core/model/safetensors.ts), so every tensor file of the project has one format.
 */
import { promises as fs } from 'node:fs';
import { decodeSafetensors, encodeSafetensors } from '../model/safetensors';

export interface NamedArray {
  shape: number[];
  data: Float32Array;
}

export function encodeTensors(tensors: Record<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  return encodeSafetensors(
    Object.entries(tensors).map(([name, t]) => {
      const size = t.shape.reduce((a, b) => a * b, 1);
      if (size !== t.data.length) throw new Error(`Tensor ${name}: shape [${t.shape}] needs ${size} values, but got ${t.data.length}`);
      return [name, { dtype: 'F32', shape: t.shape, data: t.data }];
    }),
    metadata,
  );
}

export function decodeTensors(bytes: Uint8Array, what = 'tensor file'): Record<string, NamedArray> {
  const out: Record<string, NamedArray> = {};
  for (const [name, t] of decodeSafetensors(bytes, what).tensors) {
    if (!(t.data instanceof Float32Array)) throw new Error(`${what}: tensor ${name} is ${t.dtype}; checkpoints hold floats`);
    out[name] = { shape: t.shape, data: t.data };
  }
  return out;
}

export async function readTensorFile(path: string): Promise<Record<string, NamedArray>> {
  return decodeTensors(new Uint8Array(await fs.readFile(path)), path);
}
