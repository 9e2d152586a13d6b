/**
 * What a training run was computed from: fingerprints of its inputs, recorded in every
 * checkpoint (state.json, field `inputs`) and compared when the run is resumed. The reference
 * log-prob cache is keyed with them too (ref-cache.ts `scope`), so a cached reference number is
 * never used with inputs other than those it was computed from.
 *
 * ## The record (schema "mdpo-studio/inputs@1"; any engine, tfjs or torch, writes this object)
 *
 * ```json
 * {
 *   "schema": "mdpo-studio/inputs@1",
 *   "base": "<sha256 hex>" | null,
 *   "tokenizer": "<sha256 hex>" | null,
 *   "dataset": { "size": 1200, "sha256": "<hex>" },
 *   "negative": { "fixedPerPair": true, "spec": { "kind": "crop", "minArea": 0.01, "maxArea": 0.2 } | null, "sha256": "<hex>" },
 *   "engine": { "name": "tfjs", "version": "4.22.0", "backend": "cpu" }
 * }
 * ```
 *
 * Every hash is SHA-256 (lowercase hex) over a sequence of FRAMES: a frame is the byte length
 * as uint32 little-endian followed by the bytes (Python: `struct.pack('<I', len(b)) + b`).
 * Strings are UTF-8; numbers are little-endian float32 (pixels, weights) or int32 (token ids).
 *
 * - `base`: the base (frozen, non-adapter) weights the reference model computes with. For each
 *   parameter in ascending code-point order of its checkpoint name (the safetensors key, e.g.
 *   `model.language_model.layers.0.self_attn.q_proj.weight`; Python's `sorted()` order):
 *   frame(name), frame(shape as comma-joined decimal integers, "" for a scalar), frame(values as
 *   float32). null when the model cannot list its base weights (then nothing is compared).
 * - `tokenizer`: for each of TOKENIZER_FILES present in the model folder, in that order:
 *   frame(file name), frame(file bytes). null when the caller does not pass one.
 * - `dataset.sha256`: for each training example in index order: frame(id), frame(prompt ids
 *   int32), frame(chosen ids int32), frame(rejected ids int32), frame(image float32 [H, W, 3] in
 *   [0, 1], exactly what the source returns). `size` is the number of examples. Token ids
 *   already include the end token, so a tokenizer change also changes this hash.
 * - `negative.sha256`: frame("fixed" | "per-epoch"), frame(JSON of `spec`, or "" when the
 *   source declares none), then for the first min(NEGATIVE_PROBES, size) examples: frame(m' as
 *   float32), m' drawn as for pair i with m' fixed per pair (generator Rng.derive(seed,
 *   `negative/<id>`), epoch 0). So a change of strategy or of its parameters shows even when a
 *   source does not declare its spec.
 * - `engine`: which implementation computed the numbers. A different `name` is refused (the
 *   checkpoint files belong to that engine); a different `version` or `backend` (cpu, wasm,
 *   webgpu, cuda) resumes with a note: the numbers agree to float32 rounding, not bit for bit.
 *
 * The hashes of `base` and `negative` depend on each engine's own in-memory values (weight
 * names, m' pixels), so they are compared within one engine only; `tokenizer` and
 * `dataset` are defined over files and examples and agree across engines given the same inputs.
 */
import { createHash, type Hash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../rng';
import type { LoopConfig } from './config';
import type { PreferenceSource, TrainableModel } from './types';

export const INPUTS_SCHEMA = 'mdpo-studio/inputs@1';
/** Files hashed for `tokenizer`, in this order (those present). */
export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja', 'chat_template.json'] as const;
/** m' images hashed for `negative.sha256`. */
export const NEGATIVE_PROBES = 8;

/** What a source may declare about its m' (for readable messages; the probe hash decides). */
export interface NegativeSpec {
  kind: string;
  [param: string]: string | number | boolean;
}

export interface EngineInfo {
  name: string;
  version: string;
  backend: string;
}

export interface InputFingerprints {
  schema: typeof INPUTS_SCHEMA;
  base: string | null;
  tokenizer: string | null;
  dataset: { size: number; sha256: string };
  negative: { fixedPerPair: boolean; spec: NegativeSpec | null; sha256: string };
  engine: EngineInfo;
}

/** A SHA-256 over frames (uint32-LE length + bytes). */
export class FrameHash {
  private readonly hash: Hash = createHash('sha256');

  bytes(b: Uint8Array): this {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.byteLength, 0);
    this.hash.update(len);
    this.hash.update(b);
    return this;
  }

  text(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }

  float32(a: Float32Array): this {
    return this.bytes(littleEndian(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)));
  }

  int32(ids: readonly number[]): this {
    return this.bytes(littleEndian(new Uint8Array(Int32Array.from(ids).buffer)));
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

const LITTLE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
function littleEndian(b: Uint8Array): Uint8Array {
  if (LITTLE) return b;
  const out = new Uint8Array(b.length); // 4-byte words swapped on a big-endian host
  for (let i = 0; i < b.length; i += 4) for (let k = 0; k < 4; k++) out[i + k] = b[i + 3 - k];
  return out;
}

/** `base`: the frozen weights, or null when the model cannot list them. */
export async function baseFingerprint(model: TrainableModel): Promise<string | null> {
  const params = model.baseParameters?.();
  if (!params) return null;
  const h = new FrameHash();
  const sorted = [...params].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, v] of sorted) {
    h.text(name).text(v.shape.join(',')).float32((await v.data()) as Float32Array);
  }
  return h.hex();
}

/** `tokenizer`: the tokenizer files of a model folder, or null when it has none of them. */
export async function tokenizerFingerprint(modelDir: string): Promise<string | null> {
  const h = new FrameHash();
  let found = 0;
  for (const name of TOKENIZER_FILES) {
    const bytes = await fs.readFile(path.join(modelDir, name)).catch(() => null);
    if (!bytes) continue;
    h.text(name).bytes(bytes);
    found++;
  }
  return found > 0 ? h.hex() : null;
}

/** `dataset`: every example the source yields, in index order. */
export function datasetFingerprint(source: PreferenceSource): { size: number; sha256: string } {
  const h = new FrameHash();
  for (let i = 0; i < source.size; i++) {
    const e = source.example(i);
    h.text(e.id).int32(e.promptIds).int32(e.chosenIds).int32(e.rejectedIds).float32(e.image);
  }
  return { size: source.size, sha256: h.hex() };
}

/** `negative`: the declared spec and m' of the first examples, drawn as the loop draws them. */
export function negativeFingerprint(source: PreferenceSource, cfg: Pick<LoopConfig, 'seed' | 'negativeFixedPerPair'>): InputFingerprints['negative'] {
  const spec = source.negativeSpec ?? null;
  const h = new FrameHash().text(cfg.negativeFixedPerPair ? 'fixed' : 'per-epoch').text(spec ? JSON.stringify(spec) : '');
  for (let i = 0; i < Math.min(NEGATIVE_PROBES, source.size); i++) {
    const id = source.example(i).id;
    h.float32(source.negative(i, 0, Rng.derive(cfg.seed, `negative/${id}`)));
  }
  return { fixedPerPair: cfg.negativeFixedPerPair, spec, sha256: h.hex() };
}

/** This process's engine: tfjs, its version and the active backend. */
export function tfjsEngine(): EngineInfo {
  return { name: 'tfjs', version: tf.version_core, backend: tf.getBackend() };
}

/** Fingerprints of a preference run's inputs. `tokenizer` comes from the caller (the loop sees ids only). */
export async function preferenceInputs(
  model: TrainableModel,
  source: PreferenceSource,
  cfg: Pick<LoopConfig, 'seed' | 'negativeFixedPerPair'>,
  given: { tokenizer?: string | null; engine?: EngineInfo } = {},
): Promise<InputFingerprints> {
  return {
    schema: INPUTS_SCHEMA,
    base: await baseFingerprint(model),
    tokenizer: given.tokenizer ?? null,
    dataset: datasetFingerprint(source),
    negative: negativeFingerprint(source, cfg),
    engine: given.engine ?? tfjsEngine(),
  };
}

/** The part of the inputs that reference log-probs depend on: keys the reference cache. */
export function referenceScope(inputs: InputFingerprints): string {
  const n = inputs.negative;
  return new FrameHash()
    .text(INPUTS_SCHEMA)
    .text(inputs.base ?? '')
    .text(inputs.tokenizer ?? '')
    .text(inputs.dataset.sha256)
    .text(n.sha256)
    .hex();
}

const short = (h: string | null) => (h == null ? 'none' : h.slice(0, 12));
const specText = (s: NegativeSpec | null) =>
  s == null ? 'undeclared' : Object.entries(s).map(([k, v]) => (k === 'kind' ? String(v) : `${k}=${v}`)).join(' ');

export interface InputComparison {
  /** Changes that make the checkpoint's numbers invalid: the resume must be refused. */
  changed: string[];
  /** Changes that are safe to go on with (another backend, another engine version). */
  notes: string[];
}

/**
 * What differs between the inputs a checkpoint was written with and the current ones.
 * `saved` is whatever state.json holds (unknown: an older checkpoint has no record).
 */
export function compareInputs(saved: unknown, now: InputFingerprints): InputComparison {
  const changed: string[] = [];
  const notes: string[] = [];
  const s = saved as Partial<InputFingerprints> | null | undefined;
  if (!s || s.schema !== INPUTS_SCHEMA) {
    changed.push(
      `the checkpoint records no input fingerprints (${s?.schema ? `schema ${String(s.schema)}` : 'written by an older version'}), so it cannot be checked against the base model and dataset`,
    );
    return { changed, notes };
  }
  if (s.engine?.name !== now.engine.name) {
    changed.push(`the engine: the checkpoint was written by ${s.engine?.name ?? 'an unknown engine'}, this run uses ${now.engine.name}`);
  } else {
    if (s.engine.backend !== now.engine.backend) {
      notes.push(`resumed on the ${now.engine.backend} backend; the checkpoint was written on ${s.engine.backend} (results agree to float32 rounding, not bit for bit)`);
    }
    if (s.engine.version !== now.engine.version) {
      notes.push(`${now.engine.name} ${now.engine.version} continues a checkpoint written by ${s.engine.name} ${s.engine.version}`);
    }
  }
  if (s.base !== now.base) changed.push(`the base model's weights (fingerprint ${short(s.base ?? null)} -> ${short(now.base)})`);
  if (s.tokenizer !== now.tokenizer) changed.push(`the tokenizer (fingerprint ${short(s.tokenizer ?? null)} -> ${short(now.tokenizer)})`);
  if (s.dataset?.size !== now.dataset.size) {
    changed.push(`the dataset: ${s.dataset?.size ?? '?'} pairs -> ${now.dataset.size} pairs`);
  } else if (s.dataset.sha256 !== now.dataset.sha256) {
    changed.push(`the dataset's records (same ${now.dataset.size} pairs, different contents; fingerprint ${short(s.dataset.sha256)} -> ${short(now.dataset.sha256)})`);
  }
  const sn = s.negative;
  if (!sn || sn.sha256 !== now.negative.sha256 || sn.fixedPerPair !== now.negative.fixedPerPair) {
    const was = sn ? `${specText(sn.spec)}, ${sn.fixedPerPair ? 'fixed per pair' : 'per epoch'}` : 'unknown';
    const is = `${specText(now.negative.spec)}, ${now.negative.fixedPerPair ? 'fixed per pair' : 'per epoch'}`;
    changed.push(`the m' strategy or its parameters (${was} -> ${is}; the m' images differ)`);
  }
  return { changed, notes };
}
