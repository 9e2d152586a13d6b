/**
 * Imported records -> the trainer's PreferenceSource (src/core/train/types.ts): token ids with
 * the end token, [H, W, 3] images in [0, 1] (the loop normalises with the model's mean/std),
 * and m' from the configured strategy and the generator the loop passes in.
 *
 * Truncation (what the import report's budget warnings promise): the prompt keeps its LAST
 * maxPromptTokens tokens; an answer keeps its FIRST maxAnswerTokens - 1 tokens plus the end token.
 */
import type { Rng } from '../rng';
import type { PreferenceExample, PreferenceSource } from '../train/types';
import type { ImageCache } from './image-cache';
import { makeNegative, pickOtherIndex, validateStrategy, DEFAULT_NEGATIVE, type NegativeStrategy } from './negatives';
import { cacheKey, loadRgb, outputShape, toUnit, type PreprocessParams } from './preprocess';
import { clearParquetCellCache } from './read-files';
import type { PreferenceRecord } from './types';
import type { TokenCounter } from './validate';

export interface SourceOptions {
  tokenizer: TokenCounter;
  /** Appended to every answer (docs/objective.md: logp counts one end-of-answer token). */
  endTokenId: number;
  /** Size and fit; mean/std are NOT applied here (the training loop normalises). */
  preprocess: PreprocessParams;
  strategy?: NegativeStrategy;
  cache?: ImageCache;
  maxPromptTokens?: number;
  maxAnswerTokens?: number;
  /** Prompt text to ids (e.g. with the model's chat template); default tokenizer.encode. */
  encodePrompt?: (prompt: string) => number[];
  /** Hold decoded images in memory (default: when they fit in 512 MiB; else the disk cache is read per example). */
  inMemory?: boolean;
}

export interface SkippedRecord {
  index: number;
  id: string;
  message: string;
}

const IN_MEMORY_LIMIT = 512 * 1024 * 1024;

export class DatasetPreferenceSource implements PreferenceSource {
  readonly size: number;
  readonly imageShape: readonly [number, number];

  constructor(
    private readonly records: PreferenceRecord[],
    private readonly ids: Array<{ promptIds: number[]; chosenIds: number[]; rejectedIds: number[] }>,
    /** Per record: the image's pixel source (an in-memory array or a cache key). */
    private readonly pixels: Array<Uint8Array | string>,
    private readonly strategy: NegativeStrategy,
    private readonly cache: ImageCache | undefined,
    /** Records that could not be prepared (their files changed since import). */
    readonly skipped: SkippedRecord[],
    imageShape: [number, number],
  ) {
    this.size = records.length;
    this.imageShape = imageShape;
  }

  private rgb(i: number): Uint8Array {
    const p = this.pixels[i];
    if (typeof p !== 'string') return p;
    const [h, w] = this.imageShape;
    const hit = this.cache?.getSync(p, h * w * 3);
    if (!hit) throw new Error(`The decoded image of record ${this.records[i].index} (${this.records[i].id}) is gone from the cache ${this.cache?.dir}`);
    return hit;
  }

  /** The record behind example i (for ids, sources and the UI). */
  record(i: number): PreferenceRecord {
    return this.records[i];
  }

  example(i: number): PreferenceExample {
    if (!(Number.isInteger(i) && i >= 0 && i < this.size)) throw new Error(`Expected an example index in [0, ${this.size}), but got ${i}`);
    const r = this.records[i];
    return { id: r.id, image: toUnit(this.rgb(i)), ...this.ids[i] };
  }

  negative(i: number, _epoch: number, rng: Rng): Float32Array {
    const [h, w] = this.imageShape;
    const image = toUnit(this.rgb(i));
    if (this.strategy.kind !== 'random-image') return makeNegative(image, w, h, this.strategy, rng);
    // A different image: another index whose image content differs, when the dataset has one.
    const sha = this.records[i].imageInfo?.sha256;
    let j = pickOtherIndex(i, this.size, rng);
    for (let tries = 0; tries < 8 && sha !== undefined && this.records[j].imageInfo?.sha256 === sha; tries++) j = pickOtherIndex(i, this.size, rng);
    return makeNegative(image, w, h, this.strategy, rng, toUnit(this.rgb(j)));
  }
}

function truncate(ids: number[], max: number, keep: 'start' | 'end'): number[] {
  if (ids.length <= max) return ids;
  return keep === 'start' ? ids.slice(0, max) : ids.slice(ids.length - max);
}

/** Decodes every image once (through the cache) and tokenises every record. */
export async function createPreferenceSource(records: PreferenceRecord[], options: SourceOptions): Promise<DatasetPreferenceSource> {
  const strategy = validateStrategy(options.strategy ?? DEFAULT_NEGATIVE);
  const [h, w] = outputShape(options.preprocess);
  const params: PreprocessParams = { size: [h, w], fit: options.preprocess.fit ?? 'fill' };
  const maxPrompt = options.maxPromptTokens ?? 1024;
  const maxAnswer = options.maxAnswerTokens ?? 1024;
  if (maxAnswer < 2) throw new Error(`Expected maxAnswerTokens >= 2 (one answer token and the end token), but got ${maxAnswer}`);
  const uniqueImages = new Set(records.map((r) => r.imageInfo?.sha256 ?? r.id)).size;
  const inMemory = options.inMemory ?? uniqueImages * h * w * 3 <= IN_MEMORY_LIMIT;
  if (!inMemory && !options.cache) throw new Error('A preference source that does not hold images in memory needs a cache (options.cache)');
  const encodePrompt = options.encodePrompt ?? ((t: string) => options.tokenizer.encode(t));
  const answer = (t: string): number[] => [...truncate(options.tokenizer.encode(t), maxAnswer - 1, 'start'), options.endTokenId];

  const kept: PreferenceRecord[] = [];
  const ids: Array<{ promptIds: number[]; chosenIds: number[]; rejectedIds: number[] }> = [];
  const pixels: Array<Uint8Array | string> = [];
  const skipped: SkippedRecord[] = [];
  const byContent = new Map<string, Uint8Array>();
  for (const r of records) {
    let rgb: Uint8Array;
    try {
      const sha = r.imageInfo?.sha256;
      const shared = sha !== undefined ? byContent.get(sha) : undefined;
      rgb = shared ?? (await loadRgb(r.image, params, { cache: options.cache, sha256: sha }));
      if (sha !== undefined && inMemory) byContent.set(sha, rgb);
    } catch (e) {
      const file = r.image.kind === 'file' ? r.image.path : `${r.image.file} row ${r.image.row}`;
      skipped.push({ index: r.index, id: r.id, message: `Record ${r.index} (${r.id}), image ${file}: ${(e as Error).message}` });
      continue;
    }
    kept.push(r);
    ids.push({
      promptIds: truncate(encodePrompt(r.prompt), maxPrompt, 'end'),
      chosenIds: answer(r.chosen),
      rejectedIds: answer(r.rejected),
    });
    if (inMemory || !r.imageInfo) pixels.push(rgb);
    else pixels.push(cacheKey(r.imageInfo.sha256, params));
  }
  clearParquetCellCache();
  if (strategy.kind === 'random-image' && kept.length < 2) {
    throw new Error(`The random-image negative needs at least 2 pairs, but the source has ${kept.length}`);
  }
  return new DatasetPreferenceSource(kept, ids, pixels, strategy, options.cache, skipped, [h, w]);
}
