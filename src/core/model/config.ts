/**
 * One configurable VLM architecture: ViT encoder -> connector -> Llama-style decoder.
 *
 * The same code serves the small built-in model of the scenes world and (issue 8) real
 * LLaVA / Idefics3 (SmolVLM) checkpoints; only this config and the parameter names differ.
 * Validation throws plain, up-front errors so a bad config.json fails before any tensor.
 */

export type VlmFamily = 'builtin' | 'llava' | 'idefics3';
export type HiddenAct = 'gelu' | 'gelu_pytorch_tanh' | 'quick_gelu';

export interface VisionConfig {
  imageSize: number;
  patchSize: number;
  numChannels: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  layerNormEps: number;
  /** CLIP-style class token (prepended, dropped again from the features as LLaVA does). */
  useClassToken: boolean;
  /** Index into hidden_states (0 = embeddings, i = output of layer i); -1 = last, -2 = LLaVA. */
  featureLayer: number;
  hiddenAct: HiddenAct;
  /** CLIP's `pre_layrnorm` after the embeddings (LLaVA); SigLIP has none. */
  preLayerNorm: boolean;
  /** SigLIP's `post_layernorm` on the selected features (Idefics3, builtin); LLaVA skips it. */
  postLayerNorm: boolean;
  /** Conv bias on the patch embedding (SigLIP: yes, CLIP: no). */
  patchBias: boolean;
}

export interface ConnectorConfig {
  type: 'mlp2x_gelu' | 'pixel_shuffle';
  /** Pixel shuffle factor (Idefics3: 2 for SmolVLM-256M/500M, 3 for Idefics3-8B, 4 for SmolVLM2). */
  scaleFactor?: number;
}

export interface TextConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKeyValueHeads: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  /** q/k/v biases (Qwen2); o_proj never has one. */
  attentionBias: boolean;
  tieWordEmbeddings: boolean;
  maxPositionEmbeddings: number;
}

export interface VlmConfig {
  family: VlmFamily;
  vision: VisionConfig;
  connector: ConnectorConfig;
  text: TextConfig;
  /** Per-channel normalisation applied to [0, 1] RGB pixels. */
  image: { mean: [number, number, number]; std: [number, number, number] };
  tokens: { bos: number; eos: number; pad: number; image: number };
}

/**
 * The built-in model of the scenes world: trains on 2 CPU cores (wasm) in minutes.
 * 32x32 images, patch 8 -> 16 image positions; ~0.4M parameters.
 */
export const BUILTIN_SMALL: VlmConfig = {
  family: 'builtin',
  vision: {
    imageSize: 32,
    patchSize: 8,
    numChannels: 3,
    hiddenSize: 64,
    numLayers: 2,
    numHeads: 4,
    intermediateSize: 128,
    layerNormEps: 1e-5,
    useClassToken: false,
    featureLayer: -1,
    hiddenAct: 'gelu_pytorch_tanh',
    preLayerNorm: false,
    postLayerNorm: true,
    patchBias: true,
  },
  connector: { type: 'mlp2x_gelu' },
  text: {
    vocabSize: 64,
    hiddenSize: 96,
    numLayers: 3,
    numHeads: 4,
    numKeyValueHeads: 2,
    intermediateSize: 256,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    attentionBias: false,
    tieWordEmbeddings: true,
    maxPositionEmbeddings: 256,
  },
  image: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  tokens: { pad: 0, bos: 1, eos: 2, image: 3 },
};

/** A deep copy with nested overrides, e.g. `withOverrides(BUILTIN_SMALL, { text: { vocabSize: 60 } })`. */
export function withOverrides(
  base: VlmConfig,
  o: {
    family?: VlmFamily;
    vision?: Partial<VisionConfig>;
    connector?: Partial<ConnectorConfig>;
    text?: Partial<TextConfig>;
    image?: Partial<VlmConfig['image']>;
    tokens?: Partial<VlmConfig['tokens']>;
  },
): VlmConfig {
  const c: VlmConfig = JSON.parse(JSON.stringify(base));
  return validateConfig({
    family: o.family ?? c.family,
    vision: { ...c.vision, ...o.vision },
    connector: { ...c.connector, ...o.connector },
    text: { ...c.text, ...o.text },
    image: { ...c.image, ...o.image },
    tokens: { ...c.tokens, ...o.tokens },
  });
}

function posInt(path: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`Expected ${path} to be a positive integer, but got ${String(v)}`);
  }
}

function posNum(path: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new Error(`Expected ${path} to be a positive number, but got ${String(v)}`);
  }
}

function divides(path: string, a: number, bPath: string, b: number): void {
  if (b % a !== 0) throw new Error(`Expected ${path} to divide ${bPath} (${b}), but got ${a}`);
}

/** Number of image positions the connector hands to the decoder. */
export function numImageTokens(c: VlmConfig): number {
  const side = c.vision.imageSize / c.vision.patchSize;
  const n = side * side;
  if (c.connector.type === 'pixel_shuffle') {
    const s = c.connector.scaleFactor ?? 2;
    return n / (s * s);
  }
  return n;
}

/** Throws a plain error on the first problem; returns the config for chaining. */
export function validateConfig(c: VlmConfig): VlmConfig {
  if (!c || typeof c !== 'object') throw new Error(`Expected a VLM config object, but got ${String(c)}`);
  if (!['builtin', 'llava', 'idefics3'].includes(c.family)) {
    throw new Error(`Expected family to be one of builtin, llava, idefics3, but got ${String(c.family)}`);
  }
  const v = c.vision;
  for (const k of ['imageSize', 'patchSize', 'numChannels', 'hiddenSize', 'numLayers', 'numHeads', 'intermediateSize'] as const) {
    posInt(`vision.${k}`, v[k]);
  }
  posNum('vision.layerNormEps', v.layerNormEps);
  divides('vision.patchSize', v.patchSize, 'vision.imageSize', v.imageSize);
  divides('vision.numHeads', v.numHeads, 'vision.hiddenSize', v.hiddenSize);
  if (v.numChannels !== 3) throw new Error(`Expected vision.numChannels to be 3 (RGB), but got ${v.numChannels}`);
  if (!['gelu', 'gelu_pytorch_tanh', 'quick_gelu'].includes(v.hiddenAct)) {
    throw new Error(`Expected vision.hiddenAct to be gelu, gelu_pytorch_tanh or quick_gelu, but got ${String(v.hiddenAct)}`);
  }
  const L = v.numLayers;
  if (!Number.isInteger(v.featureLayer) || v.featureLayer > L || v.featureLayer < -(L + 1)) {
    throw new Error(`Expected vision.featureLayer to be an integer in [${-(L + 1)}, ${L}], but got ${v.featureLayer}`);
  }
  const t = c.text;
  for (const k of ['vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'numKeyValueHeads', 'intermediateSize', 'maxPositionEmbeddings'] as const) {
    posInt(`text.${k}`, t[k]);
  }
  posNum('text.rmsNormEps', t.rmsNormEps);
  posNum('text.ropeTheta', t.ropeTheta);
  divides('text.numHeads', t.numHeads, 'text.hiddenSize', t.hiddenSize);
  divides('text.numKeyValueHeads', t.numKeyValueHeads, 'text.numHeads', t.numHeads);
  if ((t.hiddenSize / t.numHeads) % 2 !== 0) {
    throw new Error(`Expected the text head size to be even (RoPE rotates pairs), but got ${t.hiddenSize / t.numHeads}`);
  }
  if (c.connector.type === 'pixel_shuffle') {
    const s = c.connector.scaleFactor ?? 2;
    posInt('connector.scaleFactor', s);
    const side = v.imageSize / v.patchSize;
    divides('connector.scaleFactor', s, 'the patch grid side', side);
  } else if (c.connector.type !== 'mlp2x_gelu') {
    throw new Error(`Expected connector.type to be mlp2x_gelu or pixel_shuffle, but got ${String(c.connector.type)}`);
  }
  for (const k of ['mean', 'std'] as const) {
    const a = c.image[k];
    if (!Array.isArray(a) || a.length !== 3 || a.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw new Error(`Expected image.${k} to be 3 finite numbers, but got ${JSON.stringify(a)}`);
    }
  }
  if (c.image.std.some((x) => x <= 0)) throw new Error(`Expected image.std to be positive, but got ${JSON.stringify(c.image.std)}`);
  for (const k of ['bos', 'eos', 'pad', 'image'] as const) {
    const id = c.tokens[k];
    if (!Number.isInteger(id) || id < 0 || id >= t.vocabSize) {
      throw new Error(`Expected tokens.${k} to be a token id in [0, ${t.vocabSize}), but got ${String(id)}`);
    }
  }
  return c;
}
