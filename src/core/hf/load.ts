/**
 * loadHfModel(dir): a local Hugging Face model folder -> a trainable HfVlm, its tokenizer and
 * a processor that writes prompts/answers/images the way the HF processor does.
 *
 * Order: config.json and the tokenizer (cheap) -> memory estimate (refuse before reading any
 * weight) -> weight headers (single file or shards) -> every expected tensor by its HF name,
 * shape-checked against the config, F16/BF16 widened to float32. Nothing is ever downloaded.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { SourceOptions } from '../data/source';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LORA } from '../model/lora';
import type { LoraConfig } from '../model/lora';
import { Vlm } from '../model/model';
import { ParamStore, namingFor, parameterSpecs } from '../model/params';
import type { MappedConfig } from './config';
import { mapHfConfig } from './config';
import type { MemoryEstimate, MemoryPlan } from './memory';
import { checkMemory, estimateMemory, memoryBudget } from './memory';
import { HfVlm } from './model';
import type { ImagePlan } from './processor';
import { HfTokenizer, imagePlan, imagePromptString, preprocessImage } from './processor';
import type { TensorEntry } from './weights';
import { indexWeights, readJsonFile, readTensor } from './weights';

export interface LoadOptions {
  /** The training plan the memory check is made for (default DEFAULT_PLAN); its `recompute` is set on the model. */
  plan?: Partial<MemoryPlan>;
  /** Bytes we may use (e.g. a GPU's memory); default: free RAM. */
  budgetBytes?: number;
  /** The tfjs backend name (wasm caps the budget at 4 GiB). */
  backend?: string;
  /** Skip the memory check (the estimate is still returned). */
  skipMemoryCheck?: boolean;
}

/**
 * Used for whatever `plan` leaves out: one mDPO pair per micro-batch, 256 + 128 tokens, rank 64,
 * with recomputation (without it even SmolVLM-256M needs ~24 GiB here; see README.md).
 */
export const DEFAULT_PLAN: MemoryPlan = { lora: DEFAULT_LORA, batchSize: 1, promptTokens: 256, answerTokens: 128, rowsPerExample: 3, recompute: true };

/** Prompt/answer/image encoding as the model's HF processor does it (one global image). */
export class HfProcessor {
  readonly imageShape: readonly [number, number];
  /**
   * Put before every answer so that it tokenizes as it does inside the whole conversation:
   * ' ' when the generation prompt ends in ':' ("Assistant:") and the tokenizer does not add a
   * sentencepiece prefix space itself (Llama's '▁a' already carries it), else ''.
   */
  readonly answerPrefix: string;

  constructor(readonly tokenizer: HfTokenizer, readonly mapped: MappedConfig, readonly plan: ImagePlan) {
    const side = plan.keep ?? plan.size;
    this.imageShape = [side, side];
    const probe = tokenizer.chatTemplate ? tokenizer.applyChatTemplate([{ role: 'user', content: [{ type: 'text', text: 'x' }] }], true) : '';
    const ownPrefixSpace = (tokenizer.tokens('a')[0] ?? '').startsWith('▁');
    this.answerPrefix = /:\s*$/.test(probe) && !/\s$/.test(probe) && !ownPrefixSpace ? ' ' : '';
  }

  /** The chat template with one image and the question, placeholders expanded, tokenized. */
  promptIds(question: string): number[] {
    const tok = this.tokenizer;
    const ex = this.mapped.extras;
    const imageText = tokText(tok, ex.imageTokenId);
    const text = tok.applyChatTemplate([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: question }] }], true);
    const parts = text.split(imageText);
    if (parts.length !== 2) throw new Error(`Expected the chat template to write the image token ${imageText} once, but it wrote it ${parts.length - 1} times`);
    const fake = tok.tokenToId('<fake_token_around_image>') !== undefined ? '<fake_token_around_image>' : undefined;
    const global = tok.tokenToId('<global-img>') !== undefined ? '<global-img>' : undefined;
    return tok.encodeWithSpecials(parts.join(imagePromptString(ex, { image: imageText, fake, global })));
  }

  /** Answer ids: the text (after answerPrefix), then the end token (tokenizer_config eos_token). */
  answerIds(answer: string): number[] {
    return [...this.tokenizer.encode(this.answerPrefix + answer), this.tokenizer.specials.eos];
  }

  /**
   * What src/core/data's createPreferenceSource needs to feed this model from an imported
   * dataset: the chat-templated prompt with its image run, answers with answerPrefix + end token,
   * and the image geometry in the data module's terms ('cover' = CLIP's shortest edge + centre
   * crop; 'fill' = a square resize, which is SigLIP's and, up to Idefics3's intermediate resize
   * and a 384 -> 378 px crop for so400m, the others'). Use image() where exact HF pixels matter.
   */
  sourceOptions(): Pick<SourceOptions, 'tokenizer' | 'endTokenId' | 'encodePrompt' | 'preprocess'> {
    const side = this.imageShape[0];
    return {
      tokenizer: { encode: (t: string) => this.tokenizer.encode(this.answerPrefix + t) },
      endTokenId: this.tokenizer.specials.eos,
      encodePrompt: (p: string) => this.promptIds(p),
      preprocess: { size: side, fit: this.plan.shortestEdge !== null ? 'cover' : 'fill' },
    };
  }

  /** Image bytes or a path -> [S, S, 3] in [0, 1] (normalisation is the trainer's, with model.config.image). */
  image(input: Buffer | Uint8Array | string): Promise<Float32Array> {
    return preprocessImage(input, this.plan);
  }
}

function tokText(tok: HfTokenizer, id: number): string {
  const t = tok.idToToken(id);
  if (!t) throw new Error(`The image token id ${id} has no token in tokenizer.json`);
  return t;
}

export interface LoadedHfModel {
  model: HfVlm;
  tokenizer: HfTokenizer;
  processor: HfProcessor;
  estimate: MemoryEstimate;
  /** Tensors in the files the architecture does not use (e.g. CLIP's post_layernorm), and other remarks. */
  notes: string[];
}

/** config.json + tokenizer + preprocessor config, no weights. */
export async function inspectHfFolder(dir: string): Promise<{ mapped: MappedConfig; tokenizer: HfTokenizer; plan: ImagePlan }> {
  const s = await stat(dir).catch(() => null);
  if (!s?.isDirectory()) throw new Error(`${dir} is not a folder (expected a local Hugging Face model folder; nothing is downloaded)`);
  const cfgPath = join(dir, 'config.json');
  const raw = await readJsonFile(cfgPath);
  const tokenizer = await HfTokenizer.load(dir);
  const mapped = mapHfConfig(raw, tokenizer.specials, cfgPath);
  tokenizer.specials.image = mapped.extras.imageTokenId;
  const procPath = join(dir, 'processor_config.json');
  const proc = (await readJsonFile(procPath).catch(() => null)) as { image_seq_len?: unknown } | null;
  if (proc && typeof proc.image_seq_len === 'number' && proc.image_seq_len !== mapped.extras.imageSeqLen) {
    throw new Error(`${procPath}: image_seq_len ${proc.image_seq_len} differs from the ${mapped.extras.imageSeqLen} positions config.json implies`);
  }
  // transformers < 5 writes the image processor to preprocessor_config.json; 5 nests it in
  // processor_config.json's "image_processor".
  let ppPath = join(dir, 'preprocessor_config.json');
  let pp = (await readJsonFile(ppPath).catch((e: Error) => (e.message.startsWith('Cannot read') ? null : Promise.reject(e)))) as Record<string, unknown> | null;
  const nested = (proc as { image_processor?: unknown } | null)?.image_processor;
  if (!pp && nested && typeof nested === 'object' && !Array.isArray(nested)) {
    pp = nested as Record<string, unknown>;
    ppPath = `${procPath} image_processor`;
  }
  if (pp?.do_image_splitting === true) mapped.notes.push(`${ppPath}: do_image_splitting is on in the folder; images are used as one global view here (no tiling)`);
  const plan = imagePlan(pp, mapped.extras, mapped.vlm.image, ppPath);
  if (mapped.vlm.vision.imageSize !== plan.size) {
    plan.keep = mapped.vlm.vision.imageSize;
    mapped.notes.push(`image_size ${plan.size} is not a multiple of patch_size ${mapped.vlm.vision.patchSize}: as in HF's patch convolution, only the top-left ${plan.keep} px are seen`);
  }
  mapped.vlm.image = { mean: plan.mean, std: plan.std };
  return { mapped, tokenizer, plan };
}

/** Loads a local HF folder (SmolVLM/Idefics3, LLaVA, LLaVA-OneVision base crop). */
export async function loadHfModel(dir: string, opts: LoadOptions = {}): Promise<LoadedHfModel> {
  const { mapped, tokenizer, plan } = await inspectHfFolder(dir);
  const lora: LoraConfig = { ...DEFAULT_PLAN.lora, ...opts.plan?.lora };
  const memPlan: MemoryPlan = { ...DEFAULT_PLAN, ...opts.plan, lora };
  const estimate = estimateMemory(mapped.vlm, mapped.extras, memPlan);
  if (!opts.skipMemoryCheck) checkMemory(estimate, memoryBudget(opts));
  const { entries } = await indexWeights(dir);
  const fileNames = new Map<string, string>();
  const store = await loadParams(mapped, entries, fileNames);
  const notes = [...mapped.notes];
  const used = new Set(store.names().map((n) => fileNames.get(n) ?? n));
  const unused = [...entries.keys()].filter((n) => !used.has(n));
  if (unused.length > 0) notes.push(`${unused.length} tensors in the files are not used by this architecture: ${unused.slice(0, 6).join(', ')}${unused.length > 6 ? ', …' : ''}`);
  const vlm = new Vlm(mapped.vlm, store);
  const model = new HfVlm(vlm, mapped.extras);
  model.sourceDir = dir;
  model.fileNames = fileNames;
  model.recompute = memPlan.recompute ?? false;
  return { model, tokenizer, processor: new HfProcessor(tokenizer, mapped, plan), estimate, notes };
}

/**
 * The other spellings of a LLaVA tensor name: transformers 5 writes the vision tower without
 * its `vision_model.` level (`vision_tower.embeddings...`), and in-memory names of
 * transformers >= 4.52 put everything under `model.` (`model.language_model.layers...`,
 * `lm_head.weight`). Idefics3 names never changed.
 */
export function tensorNameAliases(name: string): string[] {
  const out: string[] = [];
  const swap = (from: string, ...to: string[]) => {
    if (name.startsWith(from)) for (const t of to) out.push(t + name.slice(from.length));
  };
  swap('vision_tower.vision_model.', 'vision_tower.', 'model.vision_tower.', 'model.vision_tower.vision_model.');
  swap('language_model.model.', 'model.language_model.');
  swap('language_model.lm_head.', 'lm_head.');
  swap('multi_modal_projector.', 'model.multi_modal_projector.');
  if (name === 'image_newline') out.push('model.image_newline');
  return out;
}

/** Every expected tensor, by HF name and config-implied shape. Errors name the file and the tensor. */
async function loadParams(mapped: MappedConfig, entries: Map<string, TensorEntry>, fileNames: Map<string, string>): Promise<ParamStore> {
  const specs = parameterSpecs(mapped.vlm).map((s) => ({ name: s.name, shape: s.shape }));
  if (mapped.extras.imageNewline) specs.push({ name: 'image_newline', shape: [mapped.vlm.text.hiddenSize] });
  const store = new ParamStore();
  try {
    for (const spec of specs) {
      let e = entries.get(spec.name);
      if (!e && mapped.vlm.family === 'llava') {
        const alias = tensorNameAliases(spec.name).find((a) => entries.has(a));
        if (alias) {
          e = entries.get(alias)!;
          fileNames.set(spec.name, alias);
        }
      }
      if (!e) {
        const files = [...new Set([...entries.values()].map((x) => x.file))];
        throw new Error(`Missing tensor ${spec.name} (shape [${spec.shape}] from config.json) in ${files.join(', ')}`);
      }
      if (!tf.util.arraysEqual(e.shape, spec.shape)) {
        throw new Error(`${e.file}: tensor ${spec.name} has shape [${e.shape}], but config.json implies [${spec.shape}]`);
      }
      const data = await readTensor(e);
      const t = tf.tensor(data, spec.shape, 'float32');
      store.set(spec.name, t);
      t.dispose();
    }
  } catch (err) {
    store.dispose();
    throw err;
  }
  const head = namingFor(mapped.vlm).lmHead;
  if (mapped.vlm.text.tieWordEmbeddings && [head, ...tensorNameAliases(head)].some((n) => entries.has(n))) {
    mapped.notes.push('tie_word_embeddings is on: the stored lm_head.weight is ignored, as transformers ties it to embed_tokens');
  }
  return store;
}
