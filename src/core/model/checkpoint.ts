/**
 * Checkpoint folders on disk.
 *
 * Model: config.json (the resolved VlmConfig) + model.safetensors (HF-named weights)
 *        + tokenizer.json (when there is a tokenizer).
 * Adapter (PEFT layout): adapter_config.json + adapter_model.safetensors with keys
 *        `base_model.model.<module path>.lora_A.weight` / `.lora_B.weight`.
 * Every file is written to a temporary name and renamed, so a crash never leaves half a file.
 */
import * as tf from '@tensorflow/tfjs-core';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { VlmConfig } from './config';
import { validateConfig } from './config';
import type { LoraConfig } from './lora';
import { LoraState, loraTargetPaths, validateLoraConfig } from './lora';
import { Vlm } from './model';
import { ParamStore, parameterSpecs } from './params';
import type { NamedTensor, SafeDtype } from './safetensors';
import { decodeSafetensors, encodeSafetensors } from './safetensors';
import { WordTokenizer } from './tokenizer';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const TOKENIZER_FILE = 'tokenizer.json';
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
const FORMAT = 'mdpo-studio-vlm';

/** Writes via a temporary file in the same folder + rename (atomic on POSIX and NTFS). */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function readSafetensorsFile(path: string) {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Reads and parses a JSON file; errors name the file (unreadable vs not JSON). */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`Cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Reads a tensor back for writing; `await data()`, since GPU backends have no sync readback. */
async function toNamed(v: tf.Tensor, dtype: SafeDtype): Promise<NamedTensor> {
  return { dtype, shape: [...v.shape], data: (await v.data()) as Float32Array };
}

export interface SaveOptions {
  tokenizer?: WordTokenizer | null;
  /** On-disk float type of the weights (default F32, exact). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Extra strings for the safetensors __metadata__ (e.g. the command that made it). */
  metadata?: Record<string, string>;
}

/** Saves the BASE weights (adapters are saved with saveAdapter, or merged first). */
export async function saveCheckpoint(dir: string, model: Vlm, opts: SaveOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors: [string, NamedTensor][] = await Promise.all(
    model.params.entries().map(async ([n, v]): Promise<[string, NamedTensor]> => [n, await toNamed(v, opts.dtype ?? 'F32')]),
  );
  const bytes = encodeSafetensors(tensors, { format: 'pt', ...opts.metadata });
  await writeFileAtomic(join(dir, WEIGHTS_FILE), bytes);
  await writeFileAtomic(join(dir, CONFIG_FILE), JSON.stringify({ format: FORMAT, version: 1, vlm: model.config }, null, 2));
  if (opts.tokenizer) await writeFileAtomic(join(dir, TOKENIZER_FILE), JSON.stringify(opts.tokenizer.toJSON()));
}

/** Reads a folder written by saveCheckpoint; every expected tensor must be there with its shape. */
export async function loadCheckpoint(dir: string): Promise<{ model: Vlm; tokenizer: WordTokenizer | null }> {
  const cfgPath = join(dir, CONFIG_FILE);
  const raw = (await readJsonFile(cfgPath)) as { format?: unknown; vlm?: VlmConfig };
  if (raw?.format !== FORMAT || !raw.vlm) {
    throw new Error(`${cfgPath}: not an mDPO Studio checkpoint (format ${String(raw?.format)}); Hugging Face folders load through the real-checkpoint loader`);
  }
  let config: VlmConfig;
  try {
    config = validateConfig(raw.vlm);
  } catch (e) {
    throw new Error(`${cfgPath}: ${(e as Error).message}`, { cause: e });
  }
  const wPath = join(dir, WEIGHTS_FILE);
  const file = await readSafetensorsFile(wPath);
  const specs = parameterSpecs(config);
  const store = new ParamStore();
  try {
    for (const spec of specs) {
      const t = file.tensors.get(spec.name);
      if (!t) throw new Error(`${wPath}: missing tensor ${spec.name}`);
      if (!tf.util.arraysEqual(t.shape, spec.shape)) throw new Error(`${wPath}: tensor ${spec.name} has shape [${t.shape}], expected [${spec.shape}]`);
      const tensor = tf.tensor(Float32Array.from(t.data), spec.shape, 'float32');
      store.set(spec.name, tensor);
      tensor.dispose();
    }
    const known = new Set(specs.map((s) => s.name));
    const extra = [...file.tensors.keys()].filter((n) => !known.has(n));
    if (extra.length > 0) throw new Error(`${wPath}: unexpected tensors ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}`);
  } catch (e) {
    store.dispose();
    throw e;
  }
  let tokenizer: WordTokenizer | null = null;
  const tokPath = join(dir, TOKENIZER_FILE);
  const tokJson = await readJsonFile(tokPath).catch((e: Error) => (e.message.startsWith('Cannot read') ? null : Promise.reject(e)));
  if (tokJson) tokenizer = WordTokenizer.fromJSON(tokJson, tokPath);
  return { model: new Vlm(config, store), tokenizer };
}

const PEFT_PREFIX = 'base_model.model.';

/** PEFT's target_modules as a full-match regex that never touches the vision tower. */
export function peftTargetRegex(config: VlmConfig, lora: LoraConfig): string {
  const body = config.family === 'idefics3' ? 'model\\.text_model' : 'language_model\\.model';
  return `${body}\\.layers\\.\\d+\\.(self_attn|mlp)\\.(${lora.targetModules.join('|')})`;
}

/**
 * Saves the adapters alone in PEFT's layout. adapter_config.json holds LoraConfig's own keys
 * only (older PEFT rejects unknown ones); what is ours (the module names, `extra`) goes into
 * the safetensors __metadata__ as `mdpo_studio.<key>` JSON strings.
 */
export async function saveAdapter(dir: string, model: Vlm, extra: Record<string, unknown> = {}): Promise<void> {
  const lora = model.lora;
  if (!lora) throw new Error('This model has no LoRA adapters to save');
  await mkdir(dir, { recursive: true });
  const tensors: [string, NamedTensor][] = [];
  for (const [path, ad] of lora.adapters) {
    tensors.push([`${PEFT_PREFIX}${path}.lora_A.weight`, await toNamed(ad.a, 'F32')]);
    tensors.push([`${PEFT_PREFIX}${path}.lora_B.weight`, await toNamed(ad.b, 'F32')]);
  }
  const c = lora.config;
  const ours: Record<string, string> = { [`${META_PREFIX}target_module_names`]: JSON.stringify(c.targetModules) };
  for (const [k, v] of Object.entries(extra)) ours[`${META_PREFIX}${k}`] = JSON.stringify(v);
  await writeFileAtomic(join(dir, ADAPTER_WEIGHTS_FILE), encodeSafetensors(tensors, { format: 'pt', ...ours }));
  const cfg = {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', r: c.rank, lora_alpha: c.alpha, lora_dropout: c.dropout,
    target_modules: peftTargetRegex(model.config, c), bias: 'none', fan_in_fan_out: false, init_lora_weights: true,
    inference_mode: false, modules_to_save: null, base_model_name_or_path: null,
  };
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(cfg, null, 2));
}

/** Prefix of this project's keys in an adapter's safetensors __metadata__. */
const META_PREFIX = 'mdpo_studio.';

/** Loads adapters saved by saveAdapter onto a model that has none (replacing is explicit: removeLora first). */
export async function loadAdapter(dir: string, model: Vlm): Promise<LoraState> {
  if (model.lora) throw new Error('This model already has LoRA adapters; call removeLora() first');
  const cfgPath = join(dir, ADAPTER_CONFIG_FILE);
  const raw = (await readJsonFile(cfgPath)) as Record<string, unknown>;
  const wPath = join(dir, ADAPTER_WEIGHTS_FILE);
  const file = await readSafetensorsFile(wPath);
  const ourNames = file.metadata[`${META_PREFIX}target_module_names`];
  const names = ourNames !== undefined ? (JSON.parse(ourNames) as string[])
    : Array.isArray(raw.target_modules) ? (raw.target_modules as string[]) : undefined;
  let cfg: LoraConfig;
  try {
    cfg = validateLoraConfig({ rank: raw.r as number, alpha: raw.lora_alpha as number, dropout: (raw.lora_dropout as number) ?? 0, targetModules: names as string[] });
  } catch (e) {
    throw new Error(`${cfgPath}: ${(e as Error).message}`, { cause: e });
  }
  const state = new LoraState(cfg);
  try {
    for (const path of loraTargetPaths(model.config, cfg)) {
      const [outDim, inDim] = model.params.get(`${path}.weight`).shape;
      const get = (which: 'A' | 'B', shape: number[]) => {
        const key = `${PEFT_PREFIX}${path}.lora_${which}.weight`;
        const t = file.tensors.get(key);
        if (!t) throw new Error(`${wPath}: missing tensor ${key}`);
        if (!tf.util.arraysEqual(t.shape, shape)) throw new Error(`${wPath}: tensor ${key} has shape [${t.shape}], expected [${shape}]`);
        return tf.tensor(Float32Array.from(t.data), shape, 'float32');
      };
      state.put(path, get('A', [cfg.rank, inDim]), get('B', [outDim, cfg.rank]));
    }
  } catch (e) {
    state.dispose();
    throw e;
  }
  model.attachLora(state);
  return state;
}
