/**
 * Hugging Face config.json -> the project's VlmConfig, for the families we support.
 *
 * HF's save_pretrained writes only the keys that differ from a config class's defaults, so
 * every default used below is the one of the transformers config class (LlamaConfig,
 * Qwen2Config, CLIPVisionConfig, SiglipVisionConfig, Idefics3VisionConfig, LlavaConfig,
 * LlavaOnevisionConfig). Anything we cannot compute exactly (rope scaling, a head_dim that is
 * not hidden/heads, biases Llama puts on o_proj, anyres tiling) is refused with a plain error
 * rather than silently approximated.
 */
import type { HiddenAct, VlmConfig } from '../model/config';
import { validateConfig } from '../model/config';

/** model_type values we load, with the families they belong to. */
export const SUPPORTED_MODEL_TYPES = {
  idefics3: 'SmolVLM / Idefics3 (SigLIP + pixel shuffle + Llama), single global image',
  smolvlm: 'SmolVLM2 (Idefics3 layout), single global image, no video',
  llava: 'LLaVA-1.5 style (CLIP or SigLIP + mlp2x_gelu + Llama or Qwen2)',
  llava_onevision: 'LLaVA-OneVision (SigLIP + mlp2x_gelu + Qwen2), base crop only',
} as const;

export type HfModelType = keyof typeof SUPPORTED_MODEL_TYPES;

export const SUPPORTED_TEXT_TYPES = ['llama', 'qwen2'] as const;
export const SUPPORTED_VISION_TYPES = ['siglip_vision_model', 'idefics3_vision', 'smolvlm_vision', 'clip_vision_model'] as const;

export class UnsupportedModelError extends Error {
  override name = 'UnsupportedModelError';
}

/** What the HF layout needs beyond VlmConfig: how images enter the token sequence. */
export interface HfExtras {
  modelType: HfModelType;
  /** The placeholder id the processor repeats once per image position. */
  imageTokenId: number;
  /** Image positions per image (after the connector, the OneVision newline included). */
  imageSeqLen: number;
  /** LLaVA's vision_feature_select_strategy "default" drops the first position even without a class token (SigLIP). */
  dropFirstFeature: boolean;
  /** LLaVA-OneVision appends its learned `image_newline` row after the base image. */
  imageNewline: boolean;
  /** Where the LoRA targets live, as module-path prefixes (legacy checkpoint names). */
  textPrefix: string;
  /** The in-memory module path of the same layers in transformers >= 4.52 (for the PEFT regex). */
  textPrefixNew: string;
  /** The text model type (llama, qwen2). */
  textType: string;
  visionType: string;
  /**
   * The processor's square size. HF's patch Conv2d (stride = kernel, no padding) ignores the
   * last image_size mod patch_size rows/columns (SigLIP so400m: 384 px, patch 14 -> 27 x 27
   * patches over 378 px), so the model's input is the top-left crop of vlm.vision.imageSize.
   */
  processorImageSize: number;
}

export interface MappedConfig {
  vlm: VlmConfig;
  extras: HfExtras;
  /** Things that load but deserve a word (e.g. a tied head with an lm_head tensor present). */
  notes: string[];
}

type Json = Record<string, unknown>;

function obj(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

/** Reads a key with a default; a present key of the wrong type is an error naming it. */
function num(o: Json, key: string, dflt: number | undefined, where: string): number {
  const v = o[key];
  if (v === undefined || v === null) {
    if (dflt === undefined) throw new Error(`${where}: missing ${key}`);
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: expected ${key} to be a number, but got ${JSON.stringify(v)}`);
  return v;
}

function bool(o: Json, key: string, dflt: boolean): boolean {
  const v = o[key];
  return typeof v === 'boolean' ? v : dflt;
}

function supportedList(): string {
  return Object.entries(SUPPORTED_MODEL_TYPES).map(([k, v]) => `${k} (${v})`).join('; ');
}

interface TextDefaults {
  vocab: number; hidden: number; inter: number; layers: number; heads: number; maxPos: number; eps: number; theta: number;
}
const LLAMA: TextDefaults = { vocab: 32000, hidden: 4096, inter: 11008, layers: 32, heads: 32, maxPos: 2048, eps: 1e-6, theta: 10000 };
const QWEN2: TextDefaults = { vocab: 151936, hidden: 4096, inter: 22016, layers: 32, heads: 32, maxPos: 32768, eps: 1e-6, theta: 10000 };

function textConfig(t: Json, where: string, tieFallback: boolean, notes: string[]): { text: VlmConfig['text']; type: string } {
  const type = String(t.model_type ?? 'llama');
  if (!(SUPPORTED_TEXT_TYPES as readonly string[]).includes(type)) {
    throw new UnsupportedModelError(`${where}: text model_type ${type} is not supported (supported: ${SUPPORTED_TEXT_TYPES.join(', ')})`);
  }
  const d = type === 'qwen2' ? QWEN2 : LLAMA;
  const hidden = num(t, 'hidden_size', d.hidden, where);
  const heads = num(t, 'num_attention_heads', d.heads, where);
  const act = String(t.hidden_act ?? 'silu');
  if (act !== 'silu') throw new UnsupportedModelError(`${where}: text hidden_act ${act} is not supported (only silu)`);
  const headDim = t.head_dim;
  if (typeof headDim === 'number' && headDim !== hidden / heads) {
    throw new UnsupportedModelError(`${where}: head_dim ${headDim} differs from hidden_size / num_attention_heads (${hidden / heads}); not supported`);
  }
  // transformers < 5: rope_theta + rope_scaling; transformers 5 writes both as rope_parameters.
  let theta = num(t, 'rope_theta', d.theta, where);
  for (const key of ['rope_scaling', 'rope_parameters'] as const) {
    const scaling = t[key];
    if (!scaling || typeof scaling !== 'object') continue;
    const kind = String((scaling as Json).rope_type ?? (scaling as Json).type ?? 'default');
    if (kind !== 'default') throw new UnsupportedModelError(`${where}: ${key} ${JSON.stringify(scaling)} is not supported (plain RoPE only)`);
    if ((scaling as Json).rope_theta !== undefined) theta = num(scaling as Json, 'rope_theta', d.theta, `${where} ${key}`);
  }
  if (type === 'llama' && (bool(t, 'attention_bias', false) || bool(t, 'mlp_bias', false))) {
    throw new UnsupportedModelError(`${where}: Llama attention_bias/mlp_bias (biases on o_proj and the MLP) are not supported`);
  }
  if (type === 'qwen2' && bool(t, 'use_sliding_window', false)) {
    notes.push(`${where}: use_sliding_window is set; sequences here are far shorter than any window, so full attention is used`);
  }
  const tie = typeof t.tie_word_embeddings === 'boolean' ? t.tie_word_embeddings : tieFallback;
  return {
    type,
    text: {
      vocabSize: num(t, 'vocab_size', d.vocab, where),
      hiddenSize: hidden,
      numLayers: num(t, 'num_hidden_layers', d.layers, where),
      numHeads: heads,
      numKeyValueHeads: num(t, 'num_key_value_heads', heads, where),
      intermediateSize: num(t, 'intermediate_size', d.inter, where),
      rmsNormEps: num(t, 'rms_norm_eps', d.eps, where),
      ropeTheta: theta,
      attentionBias: type === 'qwen2',
      tieWordEmbeddings: tie,
      maxPositionEmbeddings: num(t, 'max_position_embeddings', d.maxPos, where),
    },
  };
}

interface VisionDefaults { hidden: number; inter: number; layers: number; heads: number; image: number; patch: number; act: HiddenAct; eps: number }
const VISION_DEFAULTS: Record<string, VisionDefaults> = {
  clip_vision_model: { hidden: 768, inter: 3072, layers: 12, heads: 12, image: 224, patch: 32, act: 'quick_gelu', eps: 1e-5 },
  siglip_vision_model: { hidden: 768, inter: 3072, layers: 12, heads: 12, image: 224, patch: 16, act: 'gelu_pytorch_tanh', eps: 1e-6 },
  idefics3_vision: { hidden: 1152, inter: 3072, layers: 12, heads: 16, image: 224, patch: 32, act: 'gelu_pytorch_tanh', eps: 1e-6 },
  smolvlm_vision: { hidden: 1152, inter: 3072, layers: 12, heads: 16, image: 224, patch: 32, act: 'gelu_pytorch_tanh', eps: 1e-6 },
};
/** LlavaConfig's default vision tower (CLIP ViT-L/14-336) and LlavaOnevisionConfig's (SigLIP so400m, 26 layers). */
const LLAVA_VISION: Json = { model_type: 'clip_vision_model', hidden_size: 1024, intermediate_size: 4096, patch_size: 14, image_size: 336, num_hidden_layers: 24, num_attention_heads: 16 };
const ONEVISION_VISION: Json = { model_type: 'siglip_vision_model', hidden_size: 1152, intermediate_size: 4304, patch_size: 14, image_size: 384, num_hidden_layers: 26, num_attention_heads: 16 };

function visionBase(v: Json, type: string, where: string): Omit<VlmConfig['vision'], 'useClassToken' | 'featureLayer' | 'preLayerNorm' | 'postLayerNorm' | 'patchBias'> {
  const d = VISION_DEFAULTS[type];
  if (!d) throw new UnsupportedModelError(`${where}: vision model_type ${type} is not supported (supported: ${SUPPORTED_VISION_TYPES.join(', ')})`);
  const act = String(v.hidden_act ?? d.act);
  if (!['gelu', 'gelu_pytorch_tanh', 'quick_gelu'].includes(act)) {
    throw new UnsupportedModelError(`${where}: vision hidden_act ${act} is not supported (gelu, gelu_pytorch_tanh, quick_gelu)`);
  }
  const image = num(v, 'image_size', d.image, where);
  const patch = num(v, 'patch_size', d.patch, where);
  return {
    // What the patch convolution actually covers (see HfExtras.processorImageSize).
    imageSize: Math.floor(image / patch) * patch,
    patchSize: patch,
    numChannels: num(v, 'num_channels', 3, where),
    hiddenSize: num(v, 'hidden_size', d.hidden, where),
    numLayers: num(v, 'num_hidden_layers', d.layers, where),
    numHeads: num(v, 'num_attention_heads', d.heads, where),
    intermediateSize: num(v, 'intermediate_size', d.inter, where),
    layerNormEps: num(v, 'layer_norm_eps', d.eps, where),
    hiddenAct: act as HiddenAct,
  };
}

export interface TokenIds {
  bos: number;
  eos: number;
  pad: number;
}

/**
 * Maps config.json (already parsed) to the project's config. `ids` are the tokenizer's
 * specials (they fill VlmConfig.tokens; the HF layout itself never adds bos by position).
 * `where` names the file in errors.
 */
export function mapHfConfig(raw: unknown, ids: TokenIds, where = 'config.json'): MappedConfig {
  const c = obj(raw);
  const modelType = String(c.model_type ?? '');
  const archs = Array.isArray(c.architectures) ? c.architectures.join(', ') : '';
  if (!(modelType in SUPPORTED_MODEL_TYPES)) {
    throw new UnsupportedModelError(
      `${where}: model_type ${modelType || '(none)'}${archs ? ` (${archs})` : ''} is not supported. Supported: ${supportedList()}`,
    );
  }
  const notes: string[] = [];
  const mt = modelType as HfModelType;
  if (mt === 'idefics3' || mt === 'smolvlm') return mapIdefics3(c, mt, ids, where, notes);
  return mapLlava(c, mt, ids, where, notes);
}

function tokensFor(ids: TokenIds, image: number, vocab: number, where: string): VlmConfig['tokens'] {
  if (!Number.isInteger(image) || image < 0 || image >= vocab) {
    throw new Error(`${where}: image token id ${image} is outside the vocabulary [0, ${vocab})`);
  }
  const inVocab = (x: number) => (Number.isInteger(x) && x >= 0 && x < vocab ? x : 0);
  return { bos: inVocab(ids.bos), eos: inVocab(ids.eos), pad: inVocab(ids.pad), image };
}

function mapIdefics3(c: Json, mt: HfModelType, ids: TokenIds, where: string, notes: string[]): MappedConfig {
  const vRaw = obj(c.vision_config);
  const vType = String(vRaw.model_type ?? (mt === 'smolvlm' ? 'smolvlm_vision' : 'idefics3_vision'));
  const base = visionBase(vRaw, vType, `${where} vision_config`);
  const { text, type } = textConfig(obj(c.text_config), `${where} text_config`, bool(c, 'tie_word_embeddings', false), notes);
  const scale = num(c, 'scale_factor', 2, where);
  const side = base.imageSize / base.patchSize;
  const vlm = validateConfig({
    family: 'idefics3',
    vision: { ...base, useClassToken: false, featureLayer: -1, preLayerNorm: false, postLayerNorm: true, patchBias: true },
    connector: { type: 'pixel_shuffle', scaleFactor: scale },
    text,
    image: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    tokens: tokensFor(ids, num(c, 'image_token_id', 128257, where), text.vocabSize, where),
  });
  return {
    vlm,
    notes,
    extras: {
      modelType: mt, imageTokenId: vlm.tokens.image, imageSeqLen: (side * side) / (scale * scale),
      dropFirstFeature: false, imageNewline: false,
      textPrefix: 'model.text_model.', textPrefixNew: 'model.text_model.', textType: type, visionType: vType,
      processorImageSize: num(vRaw, 'image_size', VISION_DEFAULTS[vType].image, where),
    },
  };
}

function mapLlava(c: Json, mt: HfModelType, ids: TokenIds, where: string, notes: string[]): MappedConfig {
  const onevision = mt === 'llava_onevision';
  const vRaw = { ...(onevision ? ONEVISION_VISION : LLAVA_VISION), ...obj(c.vision_config) };
  const vType = String(vRaw.model_type);
  const base = visionBase(vRaw, vType, `${where} vision_config`);
  const tRaw = { model_type: onevision ? 'qwen2' : 'llama', ...obj(c.text_config) };
  const { text, type } = textConfig(tRaw, `${where} text_config`, bool(c, 'tie_word_embeddings', false), notes);
  const clip = vType === 'clip_vision_model';
  const strategy = String(c.vision_feature_select_strategy ?? (onevision ? 'full' : 'default'));
  if (strategy !== 'default' && strategy !== 'full') throw new UnsupportedModelError(`${where}: vision_feature_select_strategy ${strategy} is not supported`);
  if (clip && strategy === 'full') throw new UnsupportedModelError(`${where}: CLIP with vision_feature_select_strategy "full" (keeping the class token) is not supported`);
  const layerRaw = c.vision_feature_layer ?? (onevision ? -1 : -2);
  if (typeof layerRaw !== 'number') throw new UnsupportedModelError(`${where}: vision_feature_layer ${JSON.stringify(layerRaw)} (several layers) is not supported`);
  const act = String(c.projector_hidden_act ?? 'gelu');
  if (act !== 'gelu') throw new UnsupportedModelError(`${where}: projector_hidden_act ${act} is not supported (gelu)`);
  if (c.multimodal_projector_bias === false) throw new UnsupportedModelError(`${where}: a projector without biases is not supported`);
  if (onevision) notes.push('LLaVA-OneVision: base crop only (one square resize, no anyres tiling); the image_newline row follows it');
  const vlm = validateConfig({
    family: 'llava',
    vision: {
      ...base,
      useClassToken: clip,
      featureLayer: layerRaw,
      preLayerNorm: clip,
      // LLaVA reads hidden_states[layer]: the post layer norm never applies.
      postLayerNorm: false,
      patchBias: !clip,
    },
    connector: { type: 'mlp2x_gelu' },
    text,
    image: clip ? { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] } : { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
    tokens: tokensFor(ids, num(c, 'image_token_index', num(c, 'image_token_id', onevision ? 151646 : 32000, where), where), text.vocabSize, where),
  });
  const side = base.imageSize / base.patchSize;
  const dropFirst = strategy === 'default' && !clip;
  return {
    vlm,
    notes,
    extras: {
      modelType: mt, imageTokenId: vlm.tokens.image,
      imageSeqLen: side * side - (dropFirst ? 1 : 0) + (onevision ? 1 : 0),
      dropFirstFeature: dropFirst, imageNewline: onevision,
      textPrefix: 'language_model.model.', textPrefixNew: 'model.language_model.', textType: type, visionType: vType,
      processorImageSize: num(vRaw, 'image_size', VISION_DEFAULTS[vType].image, where),
    },
  };
}
