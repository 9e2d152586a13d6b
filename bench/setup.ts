/**
 * What the benchmark runs: the model sizes, the LoRA settings and a seeded batch of
 * preference pairs with ragged lengths (so padding, bucketing and prefix sharing matter as
 * they do on real data).
 *
 * Sizes (parameters counted from the real parameter specs, LoRA excluded):
 *   demo  = BUILTIN_SMALL, the built-in world's model (~0.4M): 32x32 images, 16 image slots.
 *   large = ~10x the parameters (~4.4M): wider and deeper vision tower and decoder, same
 *           image grid and vocabulary, so sequence lengths are unchanged.
 */
import { BUILTIN_SMALL, withOverrides, type VlmConfig } from '../src/core/model/config';
import { parameterSpecs } from '../src/core/model/params';
import { DEFAULT_NEGATIVE, makeNegative } from '../src/core/data/negatives';
import { Rng } from '../src/core/rng';
import type { PreferenceExample, PreferenceSource } from '../src/core/train/types';
import type { LoraConfig } from '../src/core/model/lora';

export const SIZE_NAMES = ['demo', 'large', 'tiny'] as const;
export type SizeName = (typeof SIZE_NAMES)[number];

/** tiny is for --quick and the test only (seconds on any backend). */
export const SIZES: Record<SizeName, VlmConfig> = {
  demo: BUILTIN_SMALL,
  large: withOverrides(BUILTIN_SMALL, {
    vision: { hiddenSize: 128, numLayers: 3, numHeads: 4, intermediateSize: 512 },
    text: { hiddenSize: 256, numLayers: 5, numHeads: 8, numKeyValueHeads: 4, intermediateSize: 688 },
  }),
  tiny: withOverrides(BUILTIN_SMALL, {
    vision: { imageSize: 16, hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 },
    text: { hiddenSize: 32, numLayers: 1, numHeads: 4, numKeyValueHeads: 2, intermediateSize: 64 },
  }),
};

/** The paper's LoRA, docs/objective.md#defaults (rank 64, alpha 128, every linear of the language model): the app's default. */
export function benchLora(rank = 64): LoraConfig {
  return {
    rank,
    alpha: 2 * rank,
    dropout: 0,
    targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  };
}

export function parameterCount(c: VlmConfig): number {
  return parameterSpecs(c).reduce((s, p) => s + p.shape.reduce((a, b) => a * b, 1), 0);
}

export interface LengthSpec {
  /** Inclusive ranges of prompt and answer lengths (answers include the end token). */
  prompt: [number, number];
  answer: [number, number];
}

/**
 * The baseline batch: 16 image + ~32 text tokens per sequence. Prompts 6..10 tokens,
 * answers 12..30: mean ~29 text tokens, longest up to 40.
 */
export const DEFAULT_LENGTHS: LengthSpec = { prompt: [6, 10], answer: [12, 30] };

/** Seeded pairs with ragged lengths; m' is the paper's crop 1-20%, drawn once per pair. */
export class BenchSource implements PreferenceSource {
  readonly imageShape: readonly [number, number];
  readonly pairs: PreferenceExample[];
  readonly negatives: Float32Array[];
  /** Order in which pairs are handed out (a permutation; length bucketing sorts it). */
  order: number[];

  constructor(
    readonly config: VlmConfig,
    readonly size: number,
    lengths: LengthSpec = DEFAULT_LENGTHS,
    seed = 1234,
  ) {
    const S = config.vision.imageSize;
    this.imageShape = [S, S];
    const rng = new Rng(seed);
    const V = config.text.vocabSize;
    const word = () => 4 + rng.int(V - 4); // ids 0..3 are specials
    const len = ([lo, hi]: [number, number]) => lo + rng.int(hi - lo + 1);
    const seq = (n: number) => Array.from({ length: n }, word);
    this.pairs = Array.from({ length: size }, (_, i) => {
      const image = new Float32Array(S * S * 3);
      for (let k = 0; k < image.length; k++) image[k] = rng.next();
      return {
        id: `bench-${i}`,
        image,
        promptIds: seq(len(lengths.prompt)),
        chosenIds: [...seq(len(lengths.answer) - 1), config.tokens.eos],
        rejectedIds: [...seq(len(lengths.answer) - 1), config.tokens.eos],
      };
    });
    this.negatives = this.pairs.map((p, i) => makeNegative(p.image, S, S, DEFAULT_NEGATIVE, Rng.derive(seed, `bench/negative/${i}`)));
    this.order = this.pairs.map((_, i) => i);
  }

  example(i: number): PreferenceExample {
    return this.pairs[this.order[i]];
  }

  /** The same m' every time (fixed per pair), so the peer can be given exactly this array. */
  negative(i: number): Float32Array {
    return this.negatives[this.order[i]];
  }

  /** Sorts the pairs by total length (length bucketing: a batch holds similar lengths). */
  bucketByLength(): void {
    const total = (e: PreferenceExample) => e.promptIds.length + Math.max(e.chosenIds.length, e.rejectedIds.length);
    this.order = this.pairs.map((_, i) => i).sort((a, b) => total(this.pairs[a]) - total(this.pairs[b]));
  }
}

/** Text tokens through the model per step, and the padded slots the full-row forward computes. */
export function tokenStats(pairs: PreferenceExample[], numImage: number, rowsPerPair: 2 | 3) {
  const lens = pairs.flatMap((p) => {
    const w = p.promptIds.length + p.chosenIds.length;
    const l = p.promptIds.length + p.rejectedIds.length;
    return rowsPerPair === 3 ? [w, l, w] : [w, l];
  });
  const real = lens.reduce((a, b) => a + b, 0);
  const padded = lens.length * Math.max(...lens);
  return { textTokens: real, paddedTextSlots: padded, slotsPerRow: 1 + numImage + Math.max(...lens), rows: lens.length };
}
