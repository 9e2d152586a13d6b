/**
 * Tiny random Hugging Face model folders for tests, in the exact HF layout: config.json keys
 * as transformers writes them, state-dict names and shapes written out here by hand (NOT
 * derived from the loader's own mapping, so the loader is checked against them), a small
 * byte-level BPE tokenizer.json + tokenizer_config.json with a chat template,
 * preprocessor_config.json (+ processor_config.json for Idefics3). Weights are written with the
 * project's safetensors writer, in F32/BF16/F16, single file or sharded with an index.
 * Not imported by production code.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NamedTensor } from '../../model/safetensors';
import { encodeSafetensors } from '../../model/safetensors';
import { Rng } from '../../rng';

export type TinyKind = 'smolvlm' | 'llava-llama' | 'llava-qwen2' | 'onevision';

export interface TinyOptions {
  dtype?: 'F32' | 'BF16' | 'F16';
  /** Split the weights over two shards with model.safetensors.index.json. */
  sharded?: boolean;
  seed?: number;
  /** Std of the random weights (large enough that every path matters). */
  std?: number;
  /** Drop or reshape tensors (error tests). */
  mutate?: (tensors: Map<string, NamedTensor>) => void;
  /** Edit config.json before it is written. */
  editConfig?: (c: Record<string, unknown>) => void;
}

/** GPT-2's bytes_to_unicode: every byte as a printable character. */
function byteChars(): string[] {
  const bs: number[] = [];
  for (let i = 33; i <= 126; i++) bs.push(i);
  for (let i = 161; i <= 172; i++) bs.push(i);
  for (let i = 174; i <= 255; i++) bs.push(i);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => (out[b] = String.fromCharCode(cs[i])));
  return out;
}

const MERGES: [string, string][] = [['t', 'h'], ['th', 'e'], ['Ġ', 'a'], ['Ġ', 'c'], ['Ġc', 'a'], ['Ġca', 't'], ['i', 's'], ['Ġ', 'is']];

interface TokSpec {
  specials: string[];
  bos: string | null;
  eos: string;
  pad: string | null;
  unk: string | null;
  /** TemplateProcessing that prepends bos (Llama's tokenizer). */
  addBos: boolean;
  template: string;
}

const SMOL_TEMPLATE =
  "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}" +
  "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}";
const LLAVA_TEMPLATE =
  "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}" +
  "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}{% endfor %}{% endfor %}" +
  "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}";
const QWEN_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}{% for content in message['content'] %}" +
  "{% if content['type'] == 'image' %}{{ '<image>\n' }}{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{{'<|im_end|>\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const TOKS: Record<'smol' | 'llama' | 'qwen', TokSpec> = {
  smol: {
    specials: ['<|endoftext|>', '<|im_start|>', '<end_of_utterance>', '<fake_token_around_image>', '<global-img>', '<image>'],
    bos: '<|im_start|>', eos: '<end_of_utterance>', pad: '<|endoftext|>', unk: '<|endoftext|>', addBos: false, template: SMOL_TEMPLATE,
  },
  llama: { specials: ['<unk>', '<s>', '</s>', '<image>', '<pad>'], bos: '<s>', eos: '</s>', pad: '<pad>', unk: '<unk>', addBos: true, template: LLAVA_TEMPLATE },
  qwen: { specials: ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<image>'], bos: null, eos: '<|im_end|>', pad: '<|endoftext|>', unk: null, addBos: false, template: QWEN_TEMPLATE },
};

/**
 * Llama-2's tokenizer.json style (sentencepiece BPE): <unk> <s> </s>, 256 byte-fallback tokens,
 * '▁' for spaces via Prepend/Replace normalizers, and the matching decoder sequence.
 */
function llamaTokenizerFiles(spec: TokSpec): { json: object; config: object; ids: Map<string, number>; size: number } {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  let next = 3;
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = next++;
  const pieces = ['▁', ...'abcdefghijklmnopqrstuvwxyz.?,:ABCDEFGHIJKLMNOPQRSTUVWXYZ'];
  for (const c of pieces) vocab[c] = next++;
  const merges: [string, string][] = [['▁', 'a'], ['▁', 'c'], ['▁c', 'a'], ['▁ca', 't'], ['t', 'h'], ['th', 'e'], ['▁', 'the'], ['i', 's'], ['▁', 'is'], ['U', 'S'], ['E', 'R']];
  for (const [a, b] of merges) vocab[a + b] = next++;
  const ids = new Map<string, number>([['<unk>', 0], ['<s>', 1], ['</s>', 2]]);
  const added = [
    ...['<unk>', '<s>', '</s>'].map((content, id) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    ...['<image>', '<pad>'].map((content) => {
      ids.set(content, next);
      vocab[content] = next;
      return { id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
    }),
  ];
  const json = {
    version: '1.0', truncation: null, padding: null, added_tokens: added,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<s>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: {
      type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true,
      byte_fallback: true, ignore_merges: false, vocab, merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
  const config = {
    tokenizer_class: 'LlamaTokenizer', chat_template: spec.template, bos_token: '<s>', eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>',
    add_bos_token: true, add_eos_token: false, legacy: false, model_max_length: 512, clean_up_tokenization_spaces: false,
  };
  return { json, config, ids, size: next };
}

/** tokenizer.json / tokenizer_config.json, and the special tokens' ids. */
function tokenizerFiles(spec: TokSpec): { json: object; config: object; ids: Map<string, number>; size: number } {
  if (spec.bos === '<s>') return llamaTokenizerFiles(spec);
  const vocab: Record<string, number> = {};
  byteChars().forEach((c, i) => (vocab[c] = i));
  let next = 256;
  for (const [a, b] of MERGES) vocab[a + b] = next++;
  const ids = new Map<string, number>();
  const added = spec.specials.map((content) => {
    ids.set(content, next);
    vocab[content] = next;
    return { id: next++, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
  });
  const post = spec.addBos && spec.bos
    ? {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: spec.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: spec.bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { [spec.bos]: { id: spec.bos, ids: [ids.get(spec.bos)], tokens: [spec.bos] } },
      }
    : null;
  const json = {
    version: '1.0', truncation: null, padding: null, added_tokens: added, normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: post,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
      byte_fallback: false, ignore_merges: false, vocab, merges: MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
  const config: Record<string, unknown> = {
    tokenizer_class: 'PreTrainedTokenizerFast', chat_template: spec.template, eos_token: spec.eos, model_max_length: 512,
    add_bos_token: spec.addBos, clean_up_tokenization_spaces: false,
  };
  if (spec.bos) config.bos_token = spec.bos;
  if (spec.pad) config.pad_token = spec.pad;
  if (spec.unk) config.unk_token = spec.unk;
  return { json, config, ids, size: next };
}

/** Writes the tensors in HF order, hand-written names (transformers' state-dict keys). */
class Weights {
  readonly tensors = new Map<string, NamedTensor>();
  constructor(private rng: Rng, private std: number, private dtype: NamedTensor['dtype']) {}
  add(name: string, shape: number[], kind: 'w' | 'norm' | 'bias' = 'w'): void {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const z = this.rng.normal();
      data[i] = kind === 'norm' ? 1 + 0.1 * z : kind === 'bias' ? 0.05 * z : this.std * z;
    }
    this.tensors.set(name, { dtype: this.dtype, shape, data });
  }
  linear(path: string, out: number, inp: number, bias: boolean): void {
    this.add(`${path}.weight`, [out, inp]);
    if (bias) this.add(`${path}.bias`, [out], 'bias');
  }
  layerNorm(path: string, d: number): void {
    this.add(`${path}.weight`, [d], 'norm');
    this.add(`${path}.bias`, [d], 'bias');
  }
}

interface VisionDims { hidden: number; inter: number; layers: number; image: number; patch: number }
interface TextDims { hidden: number; inter: number; layers: number; heads: number; kv: number; vocab: number }

function visionTower(w: Weights, V: string, d: VisionDims, clip: boolean): void {
  const n = (d.image / d.patch) ** 2;
  w.add(`${V}embeddings.patch_embedding.weight`, [d.hidden, 3, d.patch, d.patch]);
  if (clip) w.add(`${V}embeddings.class_embedding`, [d.hidden]);
  else w.add(`${V}embeddings.patch_embedding.bias`, [d.hidden], 'bias');
  w.add(`${V}embeddings.position_embedding.weight`, [n + (clip ? 1 : 0), d.hidden]);
  if (clip) w.layerNorm(`${V}pre_layrnorm`, d.hidden);
  for (let i = 0; i < d.layers; i++) {
    const L = `${V}encoder.layers.${i}.`;
    for (const p of ['k_proj', 'v_proj', 'q_proj', 'out_proj']) w.linear(`${L}self_attn.${p}`, d.hidden, d.hidden, true);
    w.layerNorm(`${L}layer_norm1`, d.hidden);
    w.linear(`${L}mlp.fc1`, d.inter, d.hidden, true);
    w.linear(`${L}mlp.fc2`, d.hidden, d.inter, true);
    w.layerNorm(`${L}layer_norm2`, d.hidden);
  }
  w.layerNorm(`${V}post_layernorm`, d.hidden);
}

function textModel(w: Weights, T: string, d: TextDims, qkvBias: boolean): void {
  const hd = d.hidden / d.heads;
  w.add(`${T}embed_tokens.weight`, [d.vocab, d.hidden]);
  for (let i = 0; i < d.layers; i++) {
    const L = `${T}layers.${i}.`;
    w.linear(`${L}self_attn.q_proj`, d.heads * hd, d.hidden, qkvBias);
    w.linear(`${L}self_attn.k_proj`, d.kv * hd, d.hidden, qkvBias);
    w.linear(`${L}self_attn.v_proj`, d.kv * hd, d.hidden, qkvBias);
    w.linear(`${L}self_attn.o_proj`, d.hidden, d.heads * hd, false);
    w.linear(`${L}mlp.gate_proj`, d.inter, d.hidden, false);
    w.linear(`${L}mlp.up_proj`, d.inter, d.hidden, false);
    w.linear(`${L}mlp.down_proj`, d.hidden, d.inter, false);
    w.add(`${L}input_layernorm.weight`, [d.hidden], 'norm');
    w.add(`${L}post_attention_layernorm.weight`, [d.hidden], 'norm');
  }
  w.add(`${T}norm.weight`, [d.hidden], 'norm');
}

export interface TinyFolder {
  dir: string;
  kind: TinyKind;
  /** Positions one image takes in the prompt. */
  imageSeqLen: number;
  imageSize: number;
  tensorNames: string[];
}

const TEXT: Omit<TextDims, 'vocab'> = { hidden: 32, inter: 48, layers: 2, heads: 4, kv: 2 };

/** Writes a tiny random model folder of the given family. */
export async function writeTinyHfFolder(dir: string, kind: TinyKind, opts: TinyOptions = {}): Promise<TinyFolder> {
  await mkdir(dir, { recursive: true });
  const dtype = opts.dtype ?? 'F32';
  const w = new Weights(new Rng(opts.seed ?? 1), opts.std ?? 0.15, dtype);
  const tokKind = kind === 'smolvlm' ? 'smol' : kind === 'llava-llama' ? 'llama' : 'qwen';
  const tok = tokenizerFiles(TOKS[tokKind]);
  const vocab = Math.ceil(tok.size / 8) * 8;
  const text: TextDims = { ...TEXT, vocab };
  const imageId = tok.ids.get('<image>') as number;
  let config: Record<string, unknown>;
  let pre: Record<string, unknown>;
  let imageSeqLen: number;
  let imageSize: number;
  const textCfg = (type: string, extra: Record<string, unknown>) => ({
    model_type: type, vocab_size: vocab, hidden_size: text.hidden, intermediate_size: text.inter, num_hidden_layers: text.layers,
    num_attention_heads: text.heads, num_key_value_heads: text.kv, max_position_embeddings: 512, ...extra,
  });
  if (kind === 'smolvlm') {
    const v: VisionDims = { hidden: 16, inter: 32, layers: 2, image: 32, patch: 8 };
    imageSize = v.image;
    imageSeqLen = (v.image / v.patch) ** 2 / 4;
    visionTower(w, 'model.vision_model.', v, false);
    w.linear('model.connector.modality_projection.proj', text.hidden, v.hidden * 4, false);
    textModel(w, 'model.text_model.', text, false);
    w.add('lm_head.weight', [vocab, text.hidden]);
    config = {
      architectures: ['Idefics3ForConditionalGeneration'], model_type: 'idefics3', image_token_id: imageId, scale_factor: 2,
      tie_word_embeddings: false, torch_dtype: 'bfloat16', transformers_version: '4.46.0',
      vision_config: { model_type: 'idefics3_vision', hidden_size: v.hidden, intermediate_size: v.inter, num_hidden_layers: v.layers, num_attention_heads: 2, image_size: v.image, patch_size: v.patch, max_image_size: { longest_edge: v.image } },
      text_config: textCfg('llama', { rms_norm_eps: 1e-5, rope_theta: 100000, tie_word_embeddings: false, pad_token_id: tok.ids.get('<|endoftext|>') }),
    };
    pre = {
      image_processor_type: 'Idefics3ImageProcessor', do_convert_rgb: true, do_resize: true, size: { longest_edge: 2 * v.image }, max_image_size: { longest_edge: v.image },
      resample: 1, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_image_splitting: false, do_pad: true,
    };
    await writeFile(join(dir, 'processor_config.json'), JSON.stringify({ image_seq_len: imageSeqLen, processor_class: 'Idefics3Processor' }));
  } else {
    const clip = kind === 'llava-llama';
    const v: VisionDims = { hidden: 16, inter: 32, layers: 3, image: 16, patch: 8 };
    imageSize = v.image;
    const n = (v.image / v.patch) ** 2;
    imageSeqLen = kind === 'llava-qwen2' ? n - 1 : kind === 'onevision' ? n + 1 : n;
    visionTower(w, 'vision_tower.vision_model.', v, clip);
    w.linear('multi_modal_projector.linear_1', text.hidden, v.hidden, true);
    w.linear('multi_modal_projector.linear_2', text.hidden, text.hidden, true);
    textModel(w, 'language_model.model.', text, !clip);
    if (clip) w.add('language_model.lm_head.weight', [vocab, text.hidden]);
    if (kind === 'onevision') w.add('image_newline', [text.hidden]);
    const vision = {
      model_type: clip ? 'clip_vision_model' : 'siglip_vision_model', hidden_size: v.hidden, intermediate_size: v.inter, num_hidden_layers: v.layers,
      num_attention_heads: 2, image_size: v.image, patch_size: v.patch, ...(clip ? { projection_dim: 8 } : { vision_use_head: false }),
    };
    const t = clip
      ? textCfg('llama', { rms_norm_eps: 1e-5 })
      : textCfg('qwen2', { rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true, use_sliding_window: false });
    config = kind === 'onevision'
      ? { architectures: ['LlavaOnevisionForConditionalGeneration'], model_type: 'llava_onevision', image_token_index: imageId, vision_feature_layer: -1, vision_feature_select_strategy: 'full', vision_aspect_ratio: 'anyres_max_9', vision_config: vision, text_config: t, tie_word_embeddings: true }
      : {
          architectures: ['LlavaForConditionalGeneration'], model_type: 'llava', image_token_index: imageId, projector_hidden_act: 'gelu',
          vision_feature_layer: clip ? -2 : -1, vision_feature_select_strategy: 'default', vision_config: vision, text_config: t,
          ...(clip ? { tie_word_embeddings: false, pad_token_id: tok.ids.get('<pad>') } : {}),
        };
    pre = clip
      ? { image_processor_type: 'CLIPImageProcessor', do_resize: true, size: { shortest_edge: v.image }, do_center_crop: true, crop_size: { height: v.image, width: v.image }, resample: 3, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.48145466, 0.4578275, 0.40821073], image_std: [0.26862954, 0.26130258, 0.27577711], do_convert_rgb: true }
      : { image_processor_type: kind === 'onevision' ? 'LlavaOnevisionImageProcessor' : 'SiglipImageProcessor', do_resize: true, size: { height: v.image, width: v.image }, resample: 3, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] };
  }
  opts.mutate?.(w.tensors);
  opts.editConfig?.(config);
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify(pre, null, 2));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok.json));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.config, null, 2));
  await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: tok.ids.get(TOKS[tokKind].eos) }));
  const entries = [...w.tensors.entries()];
  if (opts.sharded) {
    const half = Math.ceil(entries.length / 2);
    const shards = [entries.slice(0, half), entries.slice(half)];
    const weightMap: Record<string, string> = {};
    for (const [i, shard] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      await writeFile(join(dir, file), encodeSafetensors(shard, { format: 'pt' }));
      for (const [name] of shard) weightMap[name] = file;
    }
    await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
  } else {
    await writeFile(join(dir, 'model.safetensors'), encodeSafetensors(entries, { format: 'pt' }));
  }
  return { dir, kind, imageSeqLen, imageSize, tensorNames: entries.map(([n]) => n) };
}

/** Seeded [S, S, 3] RGB in [0, 1]. */
export function tinyImage(size: number, seed: number): Float32Array {
  const r = new Rng(seed);
  const out = new Float32Array(size * size * 3);
  for (let i = 0; i < out.length; i++) out[i] = r.next();
  return out;
}
