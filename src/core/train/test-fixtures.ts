/**
 * Shared by the loop's tests: the REAL model at a tiny size, and small seeded sources.
 * Not imported by production code.
 */
import { DEFAULT_NEGATIVE, makeNegative } from '../data/negatives';
import { Vlm } from '../model/model';
import { TINY } from '../model/test-utils';
import { Rng } from '../rng';
import type { PreferenceExample, PreferenceSource, SftExample, SftSource } from './types';

export const IMAGE = TINY.vision.imageSize; // 16
const EOS = TINY.tokens.eos;

/** The tiny VLM with rank-4 LoRA adapters on every linear of the language model. */
export function tinyModel(seed = 1, lora = true, loraDropout = 0): Vlm {
  const model = Vlm.create(TINY, new Rng(seed));
  if (lora) {
    model.addLora(
      { rank: 4, alpha: 8, dropout: loraDropout, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] },
      new Rng(seed + 1000),
    );
  }
  return model;
}

function image(rng: Rng): Float32Array {
  const out = new Float32Array(IMAGE * IMAGE * 3);
  for (let i = 0; i < out.length; i++) out[i] = rng.next();
  return out;
}

/** n seeded pairs with ragged prompts/answers; m' is the paper's crop 1-20%. */
export class TinyPreferenceSource implements PreferenceSource {
  readonly imageShape = [IMAGE, IMAGE] as const;
  readonly pairs: PreferenceExample[];
  /** Test hook: pairs whose image is replaced by NaNs. */
  poisoned = new Set<number>();

  constructor(readonly size: number, seed = 7) {
    const rng = new Rng(seed);
    const word = () => 4 + rng.int(TINY.text.vocabSize - 5);
    const seq = (lo: number, hi: number) => Array.from({ length: lo + rng.int(hi - lo + 1) }, word);
    this.pairs = Array.from({ length: size }, (_, i) => ({
      id: `pair-${i}`,
      image: image(rng),
      promptIds: seq(1, 4),
      chosenIds: [...seq(1, 4), EOS],
      rejectedIds: [...seq(1, 4), EOS],
    }));
  }

  example(i: number): PreferenceExample {
    const e = this.pairs[i];
    return this.poisoned.has(i) ? { ...e, image: new Float32Array(e.image.length).fill(NaN) } : e;
  }

  negative(i: number, _epoch: number, rng: Rng): Float32Array {
    return makeNegative(this.pairs[i].image, IMAGE, IMAGE, DEFAULT_NEGATIVE, rng);
  }
}

/**
 * A tiny supervised task the model must read the image for: the answer names the brighter
 * half of the image (left/right) with one of two tokens, after a fixed prompt.
 */
export class TinySftSource implements SftSource {
  readonly imageShape = [IMAGE, IMAGE] as const;
  readonly examples: SftExample[];

  constructor(readonly size: number, seed = 11) {
    const rng = new Rng(seed);
    this.examples = Array.from({ length: size }, (_, i) => {
      const left = rng.next() < 0.5;
      const img = new Float32Array(IMAGE * IMAGE * 3);
      for (let y = 0; y < IMAGE; y++) {
        for (let x = 0; x < IMAGE; x++) {
          const bright = x < IMAGE / 2 === left;
          for (let c = 0; c < 3; c++) img[(y * IMAGE + x) * 3 + c] = bright ? 0.8 + 0.2 * rng.next() : 0.2 * rng.next();
        }
      }
      return { id: `qa-${i}`, image: img, promptIds: [5, 6, 7], answerIds: left ? [10, 12, EOS] : [11, 12, EOS] };
    });
  }

  example(i: number): SftExample {
    return this.examples[i];
  }
}
