/**
 * LoRA adapters (Hu et al. 2021, as PEFT implements them).
 *
 * W stays frozen; each targeted Linear gets A [r, in] (kaiming-uniform, a = sqrt(5), i.e.
 * U(-1/sqrt(in), 1/sqrt(in))) and B [out, r] = 0, and adds (alpha / r) * x A^T B^T. With B = 0
 * the policy equals the base model exactly, which is why the reference model is just the same
 * weights with the adapters switched off (docs/objective.md): no second copy.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Rng } from '../rng';
import type { VlmConfig } from './config';
import type { ParamStore } from './params';
import { namingFor } from './params';

export const LORA_TARGETS_ALL = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Dropout on the adapter's input; docs/objective.md: off during preference training. */
  dropout: number;
  /** Leaf names of the language model's linears that get adapters (never vision/connector/lm_head). */
  targetModules: string[];
}

/** The paper's defaults (docs/objective.md#defaults): rank 64, alpha 128, every linear of the language model. */
export const DEFAULT_LORA: LoraConfig = { rank: 64, alpha: 128, dropout: 0, targetModules: [...LORA_TARGETS_ALL] };

/**
 * The adapters preference training actually uses. docs/objective.md turns dropout off during preference
 * training (TRL's DPOTrainer does the same: `disable_dropout` zeroes every nn.Dropout, PEFT's
 * lora_dropout included), and the loop never draws dropout masks for it. So the adapters are
 * created with dropout 0, and adapter_config.json records `lora_dropout: 0`, the value used,
 * not a requested value that had no effect. `note` says so when another value was asked for.
 */
export function preferenceLora(requested: LoraConfig): { config: LoraConfig; note: string | null } {
  const note =
    requested.dropout > 0
      ? `lora.dropout ${requested.dropout} is not applied in preference training (dropout is off, as in docs/objective.md and TRL's DPOTrainer); the adapters record lora_dropout 0`
      : null;
  return { config: { ...requested, dropout: 0 }, note };
}

export interface LoraAdapter {
  /** [r, in] */
  a: tf.Variable;
  /** [out, r] */
  b: tf.Variable;
}

let loraCounter = 0;

export function validateLoraConfig(c: LoraConfig): LoraConfig {
  if (!Number.isInteger(c.rank) || c.rank <= 0) throw new Error(`Expected lora.rank to be a positive integer, but got ${c.rank}`);
  if (!Number.isFinite(c.alpha) || c.alpha <= 0) throw new Error(`Expected lora.alpha to be a positive number, but got ${c.alpha}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`Expected lora.dropout to be in [0, 1), but got ${c.dropout}`);
  if (!Array.isArray(c.targetModules) || c.targetModules.length === 0) {
    throw new Error(`Expected lora.targetModules to be a non-empty list, but got ${JSON.stringify(c.targetModules)}`);
  }
  for (const m of c.targetModules) {
    if (!(LORA_TARGETS_ALL as readonly string[]).includes(m)) {
      throw new Error(`Expected lora.targetModules entries to be one of ${LORA_TARGETS_ALL.join(', ')}, but got ${m}`);
    }
  }
  return c;
}

/** Module paths (HF names without `.weight`) that get adapters under this LoRA config. */
export function loraTargetPaths(vlm: VlmConfig, lora: LoraConfig): string[] {
  const T = namingFor(vlm).text;
  const out: string[] = [];
  for (let i = 0; i < vlm.text.numLayers; i++) {
    for (const leaf of LORA_TARGETS_ALL) {
      if (!lora.targetModules.includes(leaf)) continue;
      const block = ['gate_proj', 'up_proj', 'down_proj'].includes(leaf) ? 'mlp' : 'self_attn';
      out.push(`${T}layers.${i}.${block}.${leaf}`);
    }
  }
  return out;
}

export class LoraState {
  readonly id = `lora${++loraCounter}`;
  readonly adapters = new Map<string, LoraAdapter>();
  readonly scaling: number;

  constructor(readonly config: LoraConfig) {
    validateLoraConfig(config);
    this.scaling = config.alpha / config.rank;
  }

  /** A fresh adapter for every target: A kaiming-uniform from `rng`, B = 0. */
  static create(vlm: VlmConfig, params: ParamStore, config: LoraConfig, rng: Rng): LoraState {
    const s = new LoraState(config);
    const r = config.rank;
    for (const path of loraTargetPaths(vlm, config)) {
      const [outDim, inDim] = params.get(`${path}.weight`).shape;
      const bound = 1 / Math.sqrt(inDim);
      const a = new Float32Array(r * inDim);
      for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
      s.put(path, tf.tensor2d(a, [r, inDim]), tf.zeros([outDim, r]));
    }
    return s;
  }

  /** Installs (or overwrites) one adapter; takes ownership of the tensors. */
  put(path: string, a: tf.Tensor, b: tf.Tensor): void {
    const old = this.adapters.get(path);
    if (old) {
      old.a.assign(a);
      old.b.assign(b);
      a.dispose();
      b.dispose();
      return;
    }
    const av = tf.variable(a, true, `${this.id}/${path}.lora_A.weight`);
    const bv = tf.variable(b, true, `${this.id}/${path}.lora_B.weight`);
    a.dispose();
    b.dispose();
    this.adapters.set(path, { a: av, b: bv });
  }

  /** A then B for every adapter, in target order (what the optimizer trains). */
  variables(): tf.Variable[] {
    const out: tf.Variable[] = [];
    for (const ad of this.adapters.values()) out.push(ad.a, ad.b);
    return out;
  }

  /** PEFT's key for a variable of this state: `<path>.lora_A.weight` (no base_model prefix). */
  keyOf(v: tf.Variable): string {
    return v.name.slice(this.id.length + 1);
  }

  /** W <- W + (alpha/r) B A for every adapter, in place. The adapters are left untouched. */
  mergeInto(params: ParamStore): void {
    for (const [path, ad] of this.adapters) {
      const w = params.get(`${path}.weight`);
      const merged = tf.tidy(() => tf.add(w, tf.mul(tf.matMul(ad.b, ad.a), this.scaling)));
      w.assign(merged);
      merged.dispose();
    }
  }

  dispose(): void {
    for (const ad of this.adapters.values()) {
      ad.a.dispose();
      ad.b.dispose();
    }
    this.adapters.clear();
  }
}
