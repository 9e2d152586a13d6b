/**
 * Parameter names, shapes and initialisation.
 *
 * Names are exactly the Hugging Face state-dict keys of the architecture mirrored (LLaVA for
 * `llava` and `builtin`, Idefics3/SmolVLM for `idefics3`), so real checkpoints load by name.
 * Linear weights are stored [out, in] like PyTorch; the forward computes x @ W^T.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import type { VlmConfig } from './config';

export interface Naming {
  /** Prefix of the vision transformer, ending in '.' */
  vision: string;
  /** Prefix of the decoder body (embeddings, layers, final norm), ending in '.' */
  text: string;
  /** The output head's weight (absent when tied). */
  lmHead: string;
}

export function namingFor(config: VlmConfig): Naming {
  if (config.family === 'idefics3') {
    return { vision: 'model.vision_model.', text: 'model.text_model.', lmHead: 'lm_head.weight' };
  }
  return {
    vision: 'vision_tower.vision_model.',
    text: 'language_model.model.',
    lmHead: 'language_model.lm_head.weight',
  };
}

/** Module paths (no `.weight`) of the connector's linears, in order. */
export function connectorModules(config: VlmConfig): string[] {
  if (config.connector.type === 'pixel_shuffle') {
    return config.family === 'idefics3'
      ? ['model.connector.modality_projection.proj']
      : ['multi_modal_projector.proj'];
  }
  return ['multi_modal_projector.linear_1', 'multi_modal_projector.linear_2'];
}

/** Initialisation kind per parameter (HF's _init_weights: normal(0, 0.02), norms 1, biases 0). */
type InitKind = 'normal' | 'ones' | 'zeros';

export interface ParamSpec {
  name: string;
  shape: number[];
  init: InitKind;
}

/** Every parameter of the architecture, in a stable order. */
export function parameterSpecs(c: VlmConfig): ParamSpec[] {
  const out: ParamSpec[] = [];
  const add = (name: string, shape: number[], init: InitKind = 'normal') => out.push({ name, shape, init });
  const linear = (path: string, outDim: number, inDim: number, bias: boolean) => {
    add(`${path}.weight`, [outDim, inDim]);
    if (bias) add(`${path}.bias`, [outDim], 'zeros');
  };
  const norm = (path: string, dim: number, bias: boolean) => {
    add(`${path}.weight`, [dim], 'ones');
    if (bias) add(`${path}.bias`, [dim], 'zeros');
  };
  const n = namingFor(c);
  const v = c.vision;
  const V = n.vision;
  const numPatches = (v.imageSize / v.patchSize) ** 2;
  // Conv2d weight layout [out, in, kh, kw]; the forward reshapes it to [D, C*P*P].
  add(`${V}embeddings.patch_embedding.weight`, [v.hiddenSize, v.numChannels, v.patchSize, v.patchSize]);
  if (v.patchBias) add(`${V}embeddings.patch_embedding.bias`, [v.hiddenSize], 'zeros');
  if (v.useClassToken) add(`${V}embeddings.class_embedding`, [v.hiddenSize]);
  add(`${V}embeddings.position_embedding.weight`, [numPatches + (v.useClassToken ? 1 : 0), v.hiddenSize]);
  if (v.preLayerNorm) norm(`${V}pre_layrnorm`, v.hiddenSize, true); // sic: CLIP's spelling
  for (let i = 0; i < v.numLayers; i++) {
    const L = `${V}encoder.layers.${i}.`;
    norm(`${L}layer_norm1`, v.hiddenSize, true);
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) linear(`${L}self_attn.${p}`, v.hiddenSize, v.hiddenSize, true);
    norm(`${L}layer_norm2`, v.hiddenSize, true);
    linear(`${L}mlp.fc1`, v.intermediateSize, v.hiddenSize, true);
    linear(`${L}mlp.fc2`, v.hiddenSize, v.intermediateSize, true);
  }
  if (v.postLayerNorm) norm(`${V}post_layernorm`, v.hiddenSize, true);

  const t = c.text;
  const cm = connectorModules(c);
  if (c.connector.type === 'pixel_shuffle') {
    const s = c.connector.scaleFactor ?? 2;
    linear(cm[0], t.hiddenSize, v.hiddenSize * s * s, false);
  } else {
    linear(cm[0], t.hiddenSize, v.hiddenSize, true);
    linear(cm[1], t.hiddenSize, t.hiddenSize, true);
  }

  const T = n.text;
  const hd = t.hiddenSize / t.numHeads;
  add(`${T}embed_tokens.weight`, [t.vocabSize, t.hiddenSize]);
  for (let i = 0; i < t.numLayers; i++) {
    const L = `${T}layers.${i}.`;
    norm(`${L}input_layernorm`, t.hiddenSize, false);
    linear(`${L}self_attn.q_proj`, t.numHeads * hd, t.hiddenSize, t.attentionBias);
    linear(`${L}self_attn.k_proj`, t.numKeyValueHeads * hd, t.hiddenSize, t.attentionBias);
    linear(`${L}self_attn.v_proj`, t.numKeyValueHeads * hd, t.hiddenSize, t.attentionBias);
    linear(`${L}self_attn.o_proj`, t.hiddenSize, t.numHeads * hd, false);
    norm(`${L}post_attention_layernorm`, t.hiddenSize, false);
    linear(`${L}mlp.gate_proj`, t.intermediateSize, t.hiddenSize, false);
    linear(`${L}mlp.up_proj`, t.intermediateSize, t.hiddenSize, false);
    linear(`${L}mlp.down_proj`, t.hiddenSize, t.intermediateSize, false);
  }
  add(`${T}norm.weight`, [t.hiddenSize], 'ones');
  if (!t.tieWordEmbeddings) add(n.lmHead, [t.vocabSize, t.hiddenSize]);
  return out;
}

let storeCounter = 0;

/**
 * Named tf.Variables. tfjs registers variables globally by name, so each store prefixes its
 * own id (`m3/…`): several models (tests, a checkpoint loaded twice) can live side by side.
 * Callers use the Hugging Face name; `hfName(variable)` maps back.
 */
export class ParamStore {
  readonly id = `m${++storeCounter}`;
  private readonly vars = new Map<string, tf.Variable>();

  set(name: string, value: tf.Tensor, trainable = true): tf.Variable {
    const old = this.vars.get(name);
    if (old) {
      if (!tf.util.arraysEqual(old.shape, value.shape)) {
        throw new Error(`Expected ${name} to have shape [${old.shape}], but got [${value.shape}]`);
      }
      old.assign(value);
      return old;
    }
    const v = tf.variable(value, trainable, `${this.id}/${name}`);
    this.vars.set(name, v);
    return v;
  }

  get(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new Error(`Missing parameter ${name}`);
    return v;
  }

  has(name: string): boolean {
    return this.vars.has(name);
  }

  delete(name: string): void {
    this.vars.get(name)?.dispose();
    this.vars.delete(name);
  }

  names(): string[] {
    return [...this.vars.keys()];
  }

  entries(): [string, tf.Variable][] {
    return [...this.vars.entries()];
  }

  hfName(v: tf.Variable): string {
    return v.name.slice(this.id.length + 1);
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }
}

/** Fresh random weights from the project's seeded generator. */
export function initParams(config: VlmConfig, rng: Rng, std = 0.02): ParamStore {
  const store = new ParamStore();
  for (const spec of parameterSpecs(config)) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (spec.init === 'ones') data.fill(1);
    else if (spec.init === 'normal') for (let i = 0; i < size; i++) data[i] = rng.normal() * std;
    const t = tf.tensor(data, spec.shape, 'float32');
    store.set(spec.name, t);
    t.dispose();
  }
  return store;
}
