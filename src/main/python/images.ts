/**
 * The torch engine's images folder (python/PROTOCOL.md, 3.1), rendered ONCE per run before the
 * engine starts, with the app's own data code: each usable record's decoded image m and its m'
 * exactly as the tfjs engine draws them (src/core/train/preference-task.ts, negative()), as
 * RGB 8-bit PNGs. So both engines train on the same m' pixels for the same pair and seed.
 *
 * Geometry: config.torch.imageSize when set; else the size and fit the tfjs engine would feed
 * this folder (src/core/hf's processor: LLaVA, SmolVLM/Idefics3, LLaVA-OneVision); else (a
 * family only transformers reads, e.g. Qwen2-VL) a 448 px square, which the model's own
 * processor then resizes as it does any image.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { splitHeldOut } from '../../core/data/holdout';
import { ImageCache } from '../../core/data/image-cache';
import { readRecordsFile } from '../../core/data/records-file';
import { strategyFromConfig } from '../../core/data/negatives';
import type { PreprocessParams } from '../../core/data/preprocess';
import { createPreferenceSource } from '../../core/data/source';
import type { PreferenceRecord } from '../../core/data/types';
import { needsImageless, objectiveConfig } from '../../core/objective/variants';
import { Rng } from '../../core/rng';
import type { TrainConfig } from '../../shared/schemas';

export const IMAGES_FORMAT = 'mdpo-studio/torch-images';
export const IMAGES_VERSION = 1;
/** The square side for families the app's own HF reader does not know. */
export const FALLBACK_IMAGE_SIZE = 448;

export type ManifestPair =
  | { index: number; id: string; image: string; negatives: string[] }
  | { index: number; id: string; skipped: string };

export interface ImagesManifest {
  format: typeof IMAGES_FORMAT;
  version: typeof IMAGES_VERSION;
  seed: number;
  strategy: TrainConfig['negative'];
  /** m' per pair: 1 when fixedPerPair, else the epochs the run touches. */
  epochs: number;
  /** [height, width] of every PNG. */
  size: [number, number];
  fit: NonNullable<PreprocessParams['fit']>;
  /** Hash of everything the pixels depend on: a folder with the same key is reused. */
  renderKey: string;
  pairs: ManifestPair[];
}

export interface RenderOptions {
  config: TrainConfig;
  recordsFile: string;
  /** The folder to fill (config.torch.negativesDir). */
  outDir: string;
  /** The data folder (its cache/images holds decoded pixels, shared with the tfjs engine). */
  home: string;
  signal?: AbortSignal;
  log?: (message: string) => void;
}

/** What the tfjs engine would feed this model: its processor's size and fit, when the app can read the folder. */
export async function imageGeometry(config: TrainConfig, log: (m: string) => void = () => {}): Promise<Required<Pick<PreprocessParams, 'size' | 'fit'>>> {
  if (config.torch.imageSize !== null) return { size: config.torch.imageSize, fit: 'fill' };
  try {
    const { inspectHfFolder, HfProcessor } = await import('../../core/hf/load');
    const { mapped, tokenizer, plan } = await inspectHfFolder(config.baseModel);
    const pre = new HfProcessor(tokenizer, mapped, plan).sourceOptions().preprocess!;
    return { size: pre.size, fit: pre.fit ?? 'fill' };
  } catch (error) {
    log(`images at ${FALLBACK_IMAGE_SIZE} px: the app's own reader does not take ${config.baseModel} (${(error as Error).message.split('\n')[0]}); the model's processor resizes them`);
    return { size: FALLBACK_IMAGE_SIZE, fit: 'fill' };
  }
}

/** How many m' each pair needs (python/PROTOCOL.md 3.1). */
export function negativeEpochs(config: TrainConfig, pairs: number): number {
  if (config.negative.fixedPerPair || pairs === 0) return 1;
  const perStep = config.batchSize * config.gradAccum;
  const totalSteps = config.maxSteps ?? config.epochs * Math.ceil(pairs / perStep);
  return Math.ceil((totalSteps * perStep) / pairs);
}

function needsNegative(config: TrainConfig): boolean {
  return needsImageless(objectiveConfig(config.variant, { beta: config.beta, delta: config.delta, terms: config.weights, anchor: config.anchor }));
}

/** [H, W, 3] floats in [0, 1] -> 8-bit (m is exact: it came from 8-bit pixels / 255). */
function toBytes(image: Float32Array): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, image[i]!)) * 255);
  return out;
}

function png(pixels: Uint8Array, [height, width]: [number, number], file: string): Promise<unknown> {
  return sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width, height, channels: 3 } }).png().toFile(file);
}

const pad = (n: number) => String(n).padStart(6, '0');

async function readManifest(dir: string): Promise<ImagesManifest | null> {
  try {
    return JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as ImagesManifest;
  } catch {
    return null;
  }
}

/**
 * Renders (or reuses) the run's images folder. Writes into a temporary sibling and renames it
 * into place, so a half-written folder is never taken for a finished one.
 */
export async function renderTorchImages(options: RenderOptions): Promise<{ manifest: ImagesManifest; reused: boolean }> {
  const { config, outDir, signal } = options;
  const log = options.log ?? (() => {});
  // Streamed: a records file of a million pairs is over V8's longest string.
  const records: PreferenceRecord[] = await readRecordsFile(options.recordsFile);
  const recordsHash = createHash('sha256');
  await pipeline(createReadStream(options.recordsFile), recordsHash);
  // As the tfjs engine: held-out records (config.holdOut, seeded) are never trained on.
  const { train, heldOut } = splitHeldOut(records, config.holdOut ?? 0, config.seed);
  const geometry = await imageGeometry(config, log);
  const withNegatives = needsNegative(config);
  const renderKey = createHash('sha256')
    .update(JSON.stringify({ v: IMAGES_VERSION, records: recordsHash.digest('hex'), geometry, seed: config.seed, holdOut: config.holdOut, negative: config.negative, withNegatives, steps: [config.maxSteps, config.epochs, config.batchSize, config.gradAccum] }))
    .digest('hex');
  const existing = await readManifest(outDir);
  if (existing?.renderKey === renderKey) return { manifest: existing, reused: true };

  // Token ids are not needed here (the torch engine tokenises with the model's processor).
  const source = await createPreferenceSource(train, {
    tokenizer: { encode: () => [] },
    endTokenId: 0,
    preprocess: geometry,
    strategy: strategyFromConfig(config.negative),
    cache: new ImageCache(join(options.home, 'cache', 'images')),
  });
  if (source.size === 0) {
    throw new Error(`None of the ${train.length} training records of ${options.recordsFile} has a usable image: ${source.skipped.slice(0, 3).map((s) => s.message).join('; ')}`);
  }
  const size = [...source.imageShape] as [number, number];
  const epochs = negativeEpochs(config, source.size);
  const position = new Map(records.map((r, i) => [r, i]));
  const pairs: ManifestPair[] = records.map((r, index) => ({ index, id: r.id, skipped: 'not prepared' }));
  const held = new Set(heldOut);
  for (const [index, r] of records.entries()) if (held.has(r)) pairs[index] = { index, id: r.id, skipped: 'held out for evaluation (holdOut)' };
  for (const s of source.skipped) {
    const index = records.findIndex((r) => r.index === s.index && r.id === s.id);
    if (index >= 0) pairs[index] = { index, id: s.id, skipped: s.message };
  }

  const tmp = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(join(tmp, 'm'), { recursive: true });
  await mkdir(join(tmp, 'neg'), { recursive: true });
  try {
    for (let i = 0; i < source.size; i++) {
      signal?.throwIfAborted();
      const example = source.example(i);
      const index = position.get(source.record(i))!;
      const image = `m/${pad(index)}.png`;
      await png(toBytes(example.image), size, join(tmp, image));
      const negatives: string[] = [];
      for (let epoch = 0; withNegatives && epoch < epochs; epoch++) {
        // PreferenceTask.negative: the generator depends on (seed, pair id[, epoch]) alone.
        const fixed = config.negative.fixedPerPair;
        const rng = Rng.derive(config.seed, fixed ? `negative/${example.id}` : `negative/${example.id}/${epoch}`);
        const file = `neg/${pad(index)}-e${epoch}.png`;
        await png(toBytes(source.negative(i, fixed ? 0 : epoch, rng)), size, join(tmp, file));
        negatives.push(file);
      }
      pairs[index] = { index, id: example.id, image, negatives };
    }
    const manifest: ImagesManifest = {
      format: IMAGES_FORMAT,
      version: IMAGES_VERSION,
      seed: config.seed,
      strategy: config.negative,
      epochs,
      size,
      fit: geometry.fit,
      renderKey,
      pairs,
    };
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 1));
    if (existsSync(outDir)) await rm(outDir, { recursive: true, force: true });
    await rename(tmp, outDir);
    for (const s of source.skipped) log(`skipped record ${s.index} (${s.id}): ${s.message}`);
    return { manifest, reused: false };
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    throw error;
  }
}
