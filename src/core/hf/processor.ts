/**
 * Text and image preprocessing of a Hugging Face model folder, as its processor does it:
 * tokenizer.json + tokenizer_config.json through @huggingface/tokenizers, the chat template
 * (tokenizer_config.json, chat_template.json or chat_template.jinja) through @huggingface/jinja,
 * and preprocessor_config.json for the image size, resampling and normalisation.
 *
 * The image placeholder is expanded exactly as the HF processors do for ONE image without
 * tiling:
 *   Idefics3/SmolVLM: <image> -> <fake_token_around_image><global-img><image>*N<fake_token_around_image>
 *   LLaVA:            <image> -> <image>*N     (OneVision: N = base crop + 1 newline)
 * Image splitting (Idefics3's do_image_splitting, OneVision's anyres) is not supported: every
 * image is one global view.
 */
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { SpecialTokens, TextTokenizer } from '../model/tokenizer';
import type { HfExtras } from './config';
import { readJsonFile } from './weights';

type Json = Record<string, unknown>;

/** A token given as a string or as an AddedToken dict ({content: ...}). */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

async function optionalJson(path: string): Promise<Json | null> {
  try {
    return (await readJsonFile(path)) as Json;
  } catch (e) {
    if ((e as Error).message.startsWith('Cannot read')) return null;
    throw e;
  }
}

export interface ChatMessage {
  role: 'user' | 'assistant' | 'system';
  content: ({ type: 'image' } | { type: 'text'; text: string })[];
}

/** tokenizer.json + tokenizer_config.json + chat template. */
export class HfTokenizer implements TextTokenizer {
  readonly specials: SpecialTokens;
  readonly vocabSize: number;
  private readonly template: Template | null;

  constructor(
    private readonly tok: Tokenizer,
    private readonly config: Json,
    readonly chatTemplate: string | null,
    private readonly file: string,
  ) {
    this.template = chatTemplate ? new Template(chatTemplate) : null;
    const id = (key: string): number => {
      const text = tokenText(config[key]);
      const v = text === null ? undefined : tok.token_to_id(text);
      return v ?? -1;
    };
    const eos = id('eos_token');
    if (eos < 0) throw new Error(`${file}: tokenizer_config.json names no eos_token found in the vocabulary (answers need an end token)`);
    const bos = id('bos_token');
    const pad = id('pad_token');
    const unk = id('unk_token');
    this.specials = { bos: bos < 0 ? eos : bos, eos, pad: pad < 0 ? eos : pad, unk: unk < 0 ? eos : unk, image: -1 };
    this.vocabSize = tok.get_vocab(true).size;
  }

  static async load(dir: string): Promise<HfTokenizer> {
    const tjPath = join(dir, 'tokenizer.json');
    const tj = await readJsonFile(tjPath).catch((e: Error) => {
      throw new Error(`${e.message} (a model folder needs tokenizer.json; sentencepiece-only tokenizer.model is not supported)`, { cause: e });
    });
    const cfg = (await optionalJson(join(dir, 'tokenizer_config.json'))) ?? {};
    let template: string | null = typeof cfg.chat_template === 'string' ? cfg.chat_template : null;
    if (!template) {
      const ct = await optionalJson(join(dir, 'chat_template.json'));
      if (typeof ct?.chat_template === 'string') template = ct.chat_template;
    }
    if (!template) template = await readFile(join(dir, 'chat_template.jinja'), 'utf8').catch(() => null);
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(tj as object, cfg);
    } catch (e) {
      throw new Error(`${tjPath}: cannot build the tokenizer: ${(e as Error).message}`, { cause: e });
    }
    return new HfTokenizer(tok, cfg, template, tjPath);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }

  /** Text -> ids WITHOUT special tokens (answers, pieces). */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  /** Token strings of a text, no special tokens. */
  tokens(text: string): string[] {
    return this.tok.tokenize(text, { add_special_tokens: false });
  }

  /** Text -> ids as the processor tokenizes a whole prompt (the tokenizer's post-processor adds bos where it does). */
  encodeWithSpecials(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: true }).ids;
  }

  decode(ids: number[]): string {
    return this.tok.decode(ids, { skip_special_tokens: true });
  }

  /** The chat template rendered (HF's apply_chat_template(tokenize=False)). */
  applyChatTemplate(messages: ChatMessage[], addGenerationPrompt = true): string {
    if (!this.template) throw new Error(`${this.file}: the model folder has no chat template (tokenizer_config.json chat_template, chat_template.json or chat_template.jinja)`);
    const t = (k: string) => tokenText(this.config[k]) ?? '';
    return this.template.render({
      messages, add_generation_prompt: addGenerationPrompt,
      bos_token: t('bos_token'), eos_token: t('eos_token'), pad_token: t('pad_token'), unk_token: t('unk_token'),
    });
  }
}

export type Resample = 'nearest' | 'linear' | 'cubic' | 'lanczos3';
/** PIL's resample codes (0 NEAREST, 1 LANCZOS, 2 BILINEAR, 3 BICUBIC) in sharp's kernels. */
const PIL_RESAMPLE: Record<number, Resample> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic' };

export interface ImagePlan {
  /** Square side the processor resizes to (HF's size / crop_size / max_image_size). */
  size: number;
  /** Side of the top-left crop the patch convolution covers (= size unless size mod patch != 0). */
  keep?: number;
  /** Idefics3: first resize so the longest edge is this (aspect kept), then square to `size`. */
  longestEdge: number | null;
  /** CLIP: resize the shortest edge to this, then center-crop `size` x `size`. */
  shortestEdge: number | null;
  resample: Resample;
  mean: [number, number, number];
  std: [number, number, number];
}

/** preprocessor_config.json -> how to turn an image into the model's [size, size, 3] input. */
export function imagePlan(raw: Json | null, extras: HfExtras, dflt: { mean: number[]; std: number[] }, where: string): ImagePlan {
  const imageSize = extras.processorImageSize;
  const p = raw ?? {};
  const three = (k: string, d: number[]): [number, number, number] => {
    const v = p[k];
    if (v === undefined) return d as [number, number, number];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number')) throw new Error(`${where}: expected ${k} to be 3 numbers, but got ${JSON.stringify(v)}`);
    return v as [number, number, number];
  };
  const size = p.size as Json | number | undefined;
  const resample = PIL_RESAMPLE[Number(p.resample ?? 3)] ?? 'cubic';
  const plan: ImagePlan = { size: imageSize, keep: undefined, longestEdge: null, shortestEdge: null, resample, mean: three('image_mean', dflt.mean), std: three('image_std', dflt.std) };
  if (extras.modelType === 'idefics3' || extras.modelType === 'smolvlm') {
    const max = Number((p.max_image_size as Json | undefined)?.longest_edge ?? imageSize);
    if (max !== imageSize) throw new Error(`${where}: max_image_size.longest_edge ${max} differs from the vision tower's image_size ${imageSize}`);
    if (typeof size === 'object' && typeof size.longest_edge === 'number' && p.do_resize !== false) plan.longestEdge = size.longest_edge;
  } else if (typeof size === 'object' && typeof size.shortest_edge === 'number') {
    plan.shortestEdge = size.shortest_edge;
    const crop = p.crop_size as Json | number | undefined;
    const c = typeof crop === 'number' ? crop : Number(crop?.height ?? imageSize);
    if (c !== imageSize) throw new Error(`${where}: crop_size ${c} differs from the vision tower's image_size ${imageSize}`);
  } else if (typeof size === 'object' && typeof size.height === 'number') {
    if (size.height !== imageSize || size.width !== imageSize) throw new Error(`${where}: size ${JSON.stringify(size)} differs from the vision tower's image_size ${imageSize}`);
  }
  return plan;
}

/**
 * Idefics3's first resize: the longest edge becomes `longest`, the other side is truncated and
 * rounded up to even (transformers' _resize_output_size_rescale_to_max_len). Returns [w, h].
 */
export function longestEdgeSize(w: number, h: number, longest: number): [number, number] {
  const even = (x: number) => Math.max(1, x % 2 !== 0 ? x + 1 : x);
  return w >= h ? [longest, even(Math.trunc(longest / (w / h)))] : [even(Math.trunc(longest * (w / h))), longest];
}

/** CLIP's resize: the shortest edge becomes `short`, the other int(short * long / shortSide). Returns [w, h]. */
export function shortestEdgeSize(w: number, h: number, short: number): [number, number] {
  return w <= h ? [short, Math.trunc((short * h) / w)] : [Math.trunc((short * w) / h), short];
}

/**
 * Image bytes (any format sharp reads) -> [size, size, 3] RGB in [0, 1], row-major.
 * Normalisation ((x - mean) / std) is the trainer's job (model.config.image).
 * Resampling is sharp's (libvips), close to but not bit-identical with PIL's.
 */
export async function preprocessImage(input: Buffer | Uint8Array | string, plan: ImagePlan): Promise<Float32Array> {
  const S = plan.size;
  let img = sharp(input).rotate().removeAlpha().toColourspace('srgb');
  const meta = await sharp(input).rotate().metadata();
  let w = meta.autoOrient?.width ?? meta.width ?? S;
  let h = meta.autoOrient?.height ?? meta.height ?? S;
  if (plan.longestEdge !== null) {
    [w, h] = longestEdgeSize(w, h, plan.longestEdge);
    const mid = await img.resize(w, h, { fit: 'fill', kernel: plan.resample, fastShrinkOnLoad: false }).png().toBuffer();
    img = sharp(mid).resize(S, S, { fit: 'fill', kernel: plan.resample, fastShrinkOnLoad: false });
  } else if (plan.shortestEdge !== null) {
    const [rw, rh] = shortestEdgeSize(w, h, plan.shortestEdge);
    if (rw < S || rh < S) throw new Error(`Expected size.shortest_edge (${plan.shortestEdge}) to be at least crop_size (${S})`);
    const mid = await img.resize(rw, rh, { fit: 'fill', kernel: plan.resample, fastShrinkOnLoad: false }).png().toBuffer();
    img = sharp(mid).extract({ left: Math.floor((rw - S) / 2), top: Math.floor((rh - S) / 2), width: S, height: S });
  } else {
    img = img.resize(S, S, { fit: 'fill', kernel: plan.resample, fastShrinkOnLoad: false });
  }
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.width !== S || info.height !== S || info.channels !== 3) throw new Error(`Expected a ${S}x${S}x3 image after preprocessing, but got ${info.width}x${info.height}x${info.channels}`);
  const K = plan.keep ?? S;
  const out = new Float32Array(K * K * 3);
  for (let y = 0; y < K; y++) for (let x = 0; x < K * 3; x++) out[y * K * 3 + x] = data[y * S * 3 + x] / 255;
  return out;
}

/** What the HF processor inserts for one image (no tiling), as text. */
export function imagePromptString(extras: HfExtras, tokens: { image: string; fake?: string; global?: string }): string {
  const run = tokens.image.repeat(extras.imageSeqLen);
  if (extras.modelType === 'idefics3' || extras.modelType === 'smolvlm') {
    if (!tokens.fake || !tokens.global) throw new Error('Idefics3 needs <fake_token_around_image> and <global-img> in the vocabulary');
    return `${tokens.fake}${tokens.global}${run}${tokens.fake}`;
  }
  return run;
}
