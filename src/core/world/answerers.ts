/**
 * Bridges a Vlm to the plain answer/sample functions that evaluate.ts and pairs.ts take:
 * render the scenes, normalise like training does, decode with the model's generate().
 */
import * as tf from '@tensorflow/tfjs-core';
import { generate } from '../model/generation';
import type { Vlm } from '../model/model';
import type { WordTokenizer } from '../model/tokenizer';
import { Rng } from '../rng';
import { pixelBatch } from '../train/pixels';
import type { AnswerFn } from './evaluate';
import type { SampleFn } from './pairs';
import type { ScoreFn, ScoreRequest } from './perception';
import { sceneImage } from './render';
import type { Scene } from './scene';

/** The longest world answer is 20 tokens (five objects); a little room beyond it. */
export const WORLD_MAX_NEW_TOKENS = 24;

export interface DecodeOptions {
  temperature: number;
  topP?: number;
  rng?: Rng;
  lora?: boolean;
}

async function decodeBatch(model: Vlm, tokenizer: WordTokenizer, scenes: readonly Scene[], prompts: readonly string[], o: DecodeOptions): Promise<string[]> {
  const size = scenes[0].imageSize;
  const pixels = pixelBatch(model, scenes.map(sceneImage), [size, size]); // [B, H, W, 3]
  try {
    const out = await generate(model, { pixels, promptIds: prompts.map((p) => tokenizer.encode(p)) }, { maxNewTokens: WORLD_MAX_NEW_TOKENS, ...o });
    return out.tokens.map((ids) => tokenizer.decode(ids));
  } finally {
    tf.dispose(pixels);
  }
}

/** Greedy answers (evaluation). */
export function greedyAnswerer(model: Vlm, tokenizer: WordTokenizer, options: { lora?: boolean } = {}): AnswerFn {
  return async (scenes, prompts) => (scenes.length === 0 ? [] : decodeBatch(model, tokenizer, scenes, prompts, { temperature: 0, lora: options.lora }));
}

/**
 * `count` samples per question at `temperature` (pairs). Each call draws from its own stream,
 * derived from the seed and the first scene's id and prompt, so results do not depend on
 * batch boundaries elsewhere in the run.
 */
export function sampler(model: Vlm, tokenizer: WordTokenizer, seed: number, temperature = 1, options: { lora?: boolean } = {}): SampleFn {
  return async (scenes, prompts, count) => {
    if (scenes.length === 0) return [];
    const rng = Rng.derive(seed, `world/sample/${scenes[0].id}/${prompts[0]}/${scenes.length}`);
    const rs = scenes.flatMap((s) => Array.from({ length: count }, () => s));
    const ps = prompts.flatMap((p) => Array.from({ length: count }, () => p));
    const flat = await decodeBatch(model, tokenizer, rs, ps, { temperature, rng, lora: options.lora });
    return scenes.map((_, i) => flat.slice(i * count, (i + 1) * count));
  };
}

/**
 * Log-probs of continuations (perception.ts's probe): the prompt and the teacher-forced answer
 * prefix are one shared prefix (image + prompt + prefix, computed once per request), each
 * candidate is scored against its key/value cache. Positions are those of training (the answer
 * follows the prompt directly), so "prompt + prefix" then "candidate" is the caption itself.
 */
export function continuationScorer(model: Vlm, tokenizer: WordTokenizer, options: { lora?: boolean } = {}): ScoreFn {
  const encode = (text: string, what: string): number[] => {
    const ids = tokenizer.encode(text);
    if (ids.includes(tokenizer.specials.unk)) throw new Error(`Expected ${what} in the tokenizer's words, but got "${text}"`);
    return ids;
  };
  const scoreGroup = async (group: readonly ScoreRequest[]): Promise<number[][]> => {
    const size = group[0].scene.imageSize;
    const K = group[0].candidates.length;
    const pixels = pixelBatch(model, group.map((r) => sceneImage(r.scene)), [size, size]); // [B, H, W, 3]
    const promptIds = group.map((r) => [...encode(r.prompt, 'the prompt'), ...encode(r.prefix, 'the answer prefix')]);
    const answers = Array.from({ length: K }, (_, k) => group.map((r) => encode(r.candidates[k], 'a candidate'))); // K sets of [B][len]
    let sets: tf.Tensor1D[] = [];
    try {
      sets = model.prefixLogProbs({ pixels, promptIds, answers }, { lora: options.lora }); // K x [B]
      const values = await Promise.all(sets.map((t) => t.data()));
      return group.map((_, b) => values.map((v) => v[b]));
    } finally {
      tf.dispose([pixels, ...sets]);
    }
  };
  return async (requests) => {
    // prefixLogProbs scores the same number of candidates per row: group requests by that number.
    const out: number[][] = new Array(requests.length);
    const byK = new Map<number, number[]>();
    requests.forEach((r, i) => {
      if (r.candidates.length === 0) throw new Error(`Expected at least one candidate in request ${i} (${r.scene.id}), but got none`);
      byK.set(r.candidates.length, [...(byK.get(r.candidates.length) ?? []), i]);
    });
    for (const idx of byK.values()) {
      const got = await scoreGroup(idx.map((i) => requests[i]));
      idx.forEach((i, k) => (out[i] = got[k]));
    }
    return out;
  };
}
