/**
 * LoRA adapters in PEFT's on-disk format, and merged full checkpoints in the HF layout.
 *
 * adapter_model.safetensors keys are `base_model.model.<module path>.lora_A.weight` /
 * `.lora_B.weight`, with module paths as the checkpoint names them (LLaVA:
 * language_model.model.layers.N..., Idefics3: model.text_model.layers.N...). PEFT >= 0.16
 * maps these legacy LLaVA names onto transformers >= 4.52's module tree itself
 * (peft#2574); older transformers use them as they are. target_modules is a full-match regex
 * (PEFT re.fullmatch-es it against module names) that accepts both spellings of the language
 * model's layers and nothing else, so the vision tower and the connector are never touched.
 * adapter_config.json holds only LoraConfig's own keys: older PEFT rejects unknown ones.
 */
import * as tf from '@tensorflow/tfjs-core';
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../model/checkpoint';
import type { LoraConfig } from '../model/lora';
import { LORA_TARGETS_ALL, LoraState, validateLoraConfig } from '../model/lora';
import type { NamedTensor } from '../model/safetensors';
import { encodeSafetensors } from '../model/safetensors';
import type { HfExtras } from './config';
import type { HfVlm } from './model';
import { SHARD_INDEX, SINGLE_WEIGHTS, indexWeights, readHeader, readJsonFile, readTensor } from './weights';

export const ADAPTER_CONFIG = 'adapter_config.json';
export const ADAPTER_WEIGHTS = 'adapter_model.safetensors';
const PREFIX = 'base_model.model.';
const ATTN = ['q_proj', 'k_proj', 'v_proj', 'o_proj'];

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The language model's layers as a regex group: legacy and transformers >= 4.52 module names. */
function layersGroup(extras: HfExtras): string {
  const names = [...new Set([extras.textPrefix, extras.textPrefixNew])].map((p) => esc(p.slice(0, -1)));
  return names.length === 1 ? names[0] : `(?:${names.join('|')})`;
}

/** PEFT target_modules: a full-match regex over the language model's linears only. */
export function peftTargetRegex(extras: HfExtras, targetModules: readonly string[]): string {
  const attn = targetModules.filter((m) => ATTN.includes(m));
  const mlp = targetModules.filter((m) => !ATTN.includes(m));
  const alts: string[] = [];
  if (attn.length) alts.push(`self_attn\\.(?:${attn.join('|')})`);
  if (mlp.length) alts.push(`mlp\\.(?:${mlp.join('|')})`);
  return `${layersGroup(extras)}\\.layers\\.\\d+\\.(?:${alts.join('|')})`;
}

/** Every LoRA-able module path of the language model (legacy names), with its leaf. */
function candidatePaths(model: HfVlm): { path: string; leaf: string }[] {
  const out: { path: string; leaf: string }[] = [];
  for (let i = 0; i < model.config.text.numLayers; i++) {
    for (const leaf of LORA_TARGETS_ALL) {
      out.push({ path: `${model.extras.textPrefix}layers.${i}.${ATTN.includes(leaf) ? 'self_attn' : 'mlp'}.${leaf}`, leaf });
    }
  }
  return out;
}

function named(t: tf.Tensor, dtype: NamedTensor['dtype'] = 'F32'): NamedTensor {
  return { dtype, shape: [...t.shape], data: t.dataSync() as Float32Array };
}

export interface AdapterExportOptions {
  /** adapter_config.json's base_model_name_or_path (e.g. "HuggingFaceTB/SmolVLM-256M-Instruct" or the folder). */
  baseModelNameOrPath?: string | null;
}

/** Writes adapter_config.json + adapter_model.safetensors (atomic files) for the attached adapters. */
export async function exportPeftAdapter(dir: string, model: HfVlm, opts: AdapterExportOptions = {}): Promise<void> {
  const lora = model.lora;
  if (!lora) throw new Error('This model has no LoRA adapters to export');
  await mkdir(dir, { recursive: true });
  const tensors: [string, NamedTensor][] = [];
  for (const [path, ad] of lora.adapters) {
    tensors.push([`${PREFIX}${path}.lora_A.weight`, named(ad.a)]);
    tensors.push([`${PREFIX}${path}.lora_B.weight`, named(ad.b)]);
  }
  const c = lora.config;
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: opts.baseModelNameOrPath ?? model.sourceDir ?? null,
    revision: null,
    r: c.rank,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: peftTargetRegex(model.extras, c.targetModules),
    bias: 'none',
    fan_in_fan_out: false,
    modules_to_save: null,
    init_lora_weights: true,
    inference_mode: true,
    use_rslora: false,
    use_dora: false,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
  };
  await writeFileAtomic(join(dir, ADAPTER_WEIGHTS), encodeSafetensors(tensors, { format: 'pt', producer: 'mdpo-studio' }));
  await writeFileAtomic(join(dir, ADAPTER_CONFIG), JSON.stringify(config, null, 2));
}

/**
 * Reads a PEFT LoRA adapter folder onto a model without adapters. Accepts target_modules as a
 * regex or a list (PEFT's suffix match), keys with or without transformers >= 4.52 names.
 * Refuses adapters it cannot apply exactly (DoRA, rsLoRA, bias, modules outside the LM's linears).
 */
export async function importPeftAdapter(dir: string, model: HfVlm): Promise<LoraState> {
  if (model.lora) throw new Error('This model already has LoRA adapters; call removeLora() first');
  const cfgPath = join(dir, ADAPTER_CONFIG);
  const raw = (await readJsonFile(cfgPath)) as Record<string, unknown>;
  const fail = (msg: string) => new Error(`${cfgPath}: ${msg}`);
  if (raw.peft_type !== 'LORA') throw fail(`peft_type ${String(raw.peft_type)} is not supported (LORA only)`);
  if (raw.use_dora === true) throw fail('DoRA adapters are not supported');
  if (raw.use_rslora === true) throw fail('rsLoRA scaling is not supported');
  if (raw.bias !== undefined && raw.bias !== 'none') throw fail(`bias ${String(raw.bias)} is not supported (none only)`);
  if (Array.isArray(raw.modules_to_save) && raw.modules_to_save.length > 0) throw fail('modules_to_save is not supported');
  for (const k of ['rank_pattern', 'alpha_pattern'] as const) {
    if (raw[k] && typeof raw[k] === 'object' && Object.keys(raw[k] as object).length > 0) throw fail(`${k} is not supported`);
  }
  const targets = raw.target_modules;
  const legacy = model.extras.textPrefix;
  const modern = model.extras.textPrefixNew;
  let re: RegExp | null = null;
  if (typeof targets === 'string') {
    try {
      re = new RegExp(`^(?:${targets})$`);
    } catch (e) {
      throw fail(`target_modules ${JSON.stringify(targets)} is not a regex this loader can read: ${(e as Error).message}`);
    }
  }
  const layers = Array.isArray(raw.layers_to_transform) ? new Set(raw.layers_to_transform as number[]) : typeof raw.layers_to_transform === 'number' ? new Set([raw.layers_to_transform]) : null;
  const matches = (path: string): boolean => {
    const names = [path, modern + path.slice(legacy.length)];
    if (re) return names.some((n) => re.test(n));
    const layer = Number(/\.layers\.(\d+)\./.exec(path)?.[1]);
    if (layers && !layers.has(layer)) return false; // PEFT applies layers_to_transform to list targets
    if (Array.isArray(targets)) return names.some((n) => targets.some((t) => n === t || n.endsWith(`.${String(t)}`)));
    return false;
  };
  const chosen = candidatePaths(model).filter((p) => matches(p.path));
  if (chosen.length === 0) throw fail(`target_modules ${JSON.stringify(targets)} matches none of the language model's linear layers`);
  let cfg: LoraConfig;
  try {
    cfg = validateLoraConfig({
      rank: raw.r as number,
      alpha: raw.lora_alpha as number,
      dropout: typeof raw.lora_dropout === 'number' ? raw.lora_dropout : 0,
      targetModules: [...new Set(chosen.map((p) => p.leaf))],
    });
  } catch (e) {
    throw fail((e as Error).message);
  }
  const wPath = join(dir, ADAPTER_WEIGHTS);
  const { entries } = await indexWeightsFile(dir);
  const keyFor = (path: string, which: 'A' | 'B'): string | null => {
    for (const p of [path, modern + path.slice(legacy.length)]) {
      for (const k of [`${PREFIX}${p}.lora_${which}.weight`, `${PREFIX}${p}.lora_${which}.default.weight`]) if (entries.has(k)) return k;
    }
    return null;
  };
  const usedKeys = new Set<string>();
  const state = new LoraState(cfg);
  try {
    for (const { path } of chosen) {
      const [outDim, inDim] = model.params.get(`${path}.weight`).shape;
      const load = async (which: 'A' | 'B', shape: number[]) => {
        const key = keyFor(path, which);
        if (!key) throw new Error(`${wPath}: missing tensor ${PREFIX}${path}.lora_${which}.weight`);
        const e = entries.get(key)!;
        if (!tf.util.arraysEqual(e.shape, shape)) throw new Error(`${wPath}: tensor ${key} has shape [${e.shape}], expected [${shape}]`);
        usedKeys.add(key);
        return tf.tensor(await readTensor(e), shape, 'float32');
      };
      const a = await load('A', [cfg.rank, inDim]);
      const b = await load('B', [outDim, cfg.rank]);
      state.put(path, a, b);
    }
    const extra = [...entries.keys()].filter((k) => !usedKeys.has(k));
    if (extra.length > 0) throw new Error(`${wPath}: tensors for modules this loader does not adapt (only the language model's linears): ${extra.slice(0, 4).join(', ')}${extra.length > 4 ? ', …' : ''}`);
  } catch (e) {
    state.dispose();
    throw e;
  }
  model.vlm.attachLora(state);
  return state;
}

async function indexWeightsFile(dir: string) {
  return { entries: await readHeader(join(dir, ADAPTER_WEIGHTS)) };
}

export interface MergedExportOptions {
  /** On-disk float type (default F32: exact; BF16/F16 halve the size). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Largest shard in bytes before splitting into model-0000i-of-0000n.safetensors (default 2 GiB). */
  maxShardBytes?: number;
}

/**
 * A full checkpoint with the adapters merged (W + alpha/r B A), in the source folder's HF
 * layout: its config.json, tokenizer and processor files are copied; tensors the architecture
 * does not use (e.g. CLIP's post_layernorm) are copied through unchanged. The model keeps its
 * adapters. Reloads with loadHfModel (and transformers' from_pretrained).
 */
export async function exportMerged(dir: string, model: HfVlm, opts: MergedExportOptions = {}): Promise<void> {
  const src = model.sourceDir;
  if (!src) throw new Error('This model was not loaded from a Hugging Face folder (its config.json and tokenizer are needed)');
  if (resolve(dir) === resolve(src)) throw new Error(`Refusing to write the merged checkpoint over its source folder ${src}`);
  await mkdir(dir, { recursive: true });
  const dtype = opts.dtype ?? 'F32';
  const maxShard = opts.maxShardBytes ?? 2 * 2 ** 30;
  const bytesPer = dtype === 'F32' ? 4 : 2;
  const lora = model.lora;
  const tensors: [string, NamedTensor][] = [];
  // Tensors keep the source files' spelling (a transformers 5 folder stays one).
  const written = new Set<string>();
  for (const [name, v] of model.params.entries()) {
    const path = name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : null;
    const ad = path && lora ? lora.adapters.get(path) : undefined;
    const fileName = model.fileNames.get(name) ?? name;
    written.add(fileName);
    if (ad && lora) {
      const merged = tf.tidy(() => tf.add(v, tf.mul(tf.matMul(ad.b, ad.a), lora.scaling)));
      tensors.push([fileName, named(merged, dtype)]);
      merged.dispose();
    } else tensors.push([fileName, named(v, dtype)]);
  }
  const { entries } = await indexWeights(src);
  for (const [name, e] of entries) {
    if (written.has(name)) continue;
    tensors.push([name, { dtype, shape: e.shape, data: await readTensor(e) }]);
  }
  // Shards in order, each under maxShard bytes (a tensor larger than that gets its own shard).
  const shards: [string, NamedTensor][][] = [[]];
  let size = 0;
  let total = 0;
  for (const t of tensors) {
    const n = t[1].data.length * bytesPer;
    total += n;
    if (size > 0 && size + n > maxShard) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += n;
  }
  if (shards.length === 1) {
    await writeFileAtomic(join(dir, SINGLE_WEIGHTS), encodeSafetensors(shards[0], { format: 'pt' }));
  } else {
    const weightMap: Record<string, string> = {};
    const pad = (i: number) => String(i).padStart(5, '0');
    for (const [i, shard] of shards.entries()) {
      const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
      await writeFileAtomic(join(dir, file), encodeSafetensors(shard, { format: 'pt' }));
      for (const [name] of shard) weightMap[name] = file;
    }
    await writeFileAtomic(join(dir, SHARD_INDEX), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  }
  // Everything else of the source folder that describes the model (configs, tokenizer, templates).
  for (const f of await readdir(src)) {
    if (f.endsWith('.safetensors') || f === SHARD_INDEX || f.endsWith('.bin') || f.endsWith('.pt')) continue;
    if (f.endsWith('.json') || f.endsWith('.jinja') || f.endsWith('.model') || f.endsWith('.txt')) await copyFile(join(src, f), join(dir, f));
  }
}
