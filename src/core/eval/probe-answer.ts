/**
 * A model that answers probe questions about images: a checkpoint folder (this project's own
 * format, or a local Hugging Face folder of a supported family), optionally with a LoRA adapter
 * (this project's, or PEFT's layout for Hugging Face folders). Greedy by default; with a
 * temperature, sampling is seeded per item (Rng.derive(seed, item key)), so an answer does not
 * depend on which items were answered before it: a resumed job gives the same answers.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadRgb, readImageBytes, toUnit } from '../data/preprocess';
import type { ImageRef } from '../data/types';
import { importPeftAdapter } from '../hf/adapter';
import { loadHfModel } from '../hf/load';
import { loadAdapter, loadCheckpoint } from '../model/checkpoint';
import { generate, pickToken } from '../model/generation';
import { Rng } from '../rng';
import { pixelBatch } from '../train/pixels';

export interface AnswerSettings {
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  seed: number;
}

export interface ProbeAnswerer {
  /** Which loader read the folder: 'builtin' (this project's format) or the HF family. */
  readonly family: string;
  answer(image: ImageRef, question: string, itemKey: string): Promise<string>;
  dispose(): void;
}

const rngFor = (s: AnswerSettings, itemKey: string): Rng | undefined => (s.temperature > 0 ? Rng.derive(s.seed, `answer/${itemKey}`) : undefined);

async function isOwnFormat(dir: string): Promise<boolean> {
  try {
    const raw = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { format?: unknown };
    return raw.format === 'mdpo-studio-vlm';
  } catch {
    return false;
  }
}

/** Loads the model (and adapter) once; answer() is then called per item. */
export async function openAnswerer(baseDir: string, adapterDir: string | null, settings: AnswerSettings): Promise<ProbeAnswerer> {
  if (!Number.isInteger(settings.maxTokens) || settings.maxTokens < 1) throw new Error(`Expected maxTokens to be a positive integer, but got ${settings.maxTokens}`);
  if (!(settings.temperature >= 0)) throw new Error(`Expected temperature >= 0, but got ${settings.temperature}`);
  return (await isOwnFormat(baseDir)) ? openBuiltin(baseDir, adapterDir, settings) : openHf(baseDir, adapterDir, settings);
}

async function openBuiltin(baseDir: string, adapterDir: string | null, settings: AnswerSettings): Promise<ProbeAnswerer> {
  const { model, tokenizer } = await loadCheckpoint(baseDir);
  if (!tokenizer) {
    model.dispose();
    throw new Error(`${baseDir} has no tokenizer.json.`);
  }
  if (adapterDir) {
    await loadAdapter(adapterDir, model).catch((e: Error) => {
      model.dispose();
      throw new Error(`Cannot load the adapter in ${adapterDir}: ${e.message}`, { cause: e });
    });
  }
  const size = model.config.vision.imageSize;
  return {
    family: 'builtin',
    async answer(image, question, itemKey) {
      const pixels = pixelBatch(model, [toUnit(await loadRgb(image, { size: [size, size] }))], [size, size]); // [1, H, W, 3]
      try {
        const out = await generate(model, { pixels, promptIds: [tokenizer.encode(question)] }, {
          maxNewTokens: settings.maxTokens,
          temperature: settings.temperature,
          rng: rngFor(settings, itemKey),
          lora: adapterDir !== null,
        });
        return tokenizer.decode(out.tokens[0]!);
      } finally {
        tf.dispose(pixels);
      }
    },
    dispose: () => model.dispose(),
  };
}

async function openHf(baseDir: string, adapterDir: string | null, settings: AnswerSettings): Promise<ProbeAnswerer> {
  const { model, processor, tokenizer } = await loadHfModel(baseDir, { skipMemoryCheck: true });
  if (adapterDir) {
    await importPeftAdapter(adapterDir, model).catch((e: Error) => {
      model.dispose();
      throw new Error(`Cannot load the PEFT adapter in ${adapterDir}: ${e.message}`, { cause: e });
    });
  }
  const eos = tokenizer.specials.eos;
  const [H, W] = processor.imageShape;
  return {
    family: model.config.family,
    async answer(image, question, itemKey) {
      const unit = await processor.image(Buffer.from(await readImageBytes(image)));
      const pixels = pixelBatch(model, [unit], [H, W]); // [1, H, W, 3]
      const promptIds = processor.promptIds(question);
      const rng = rngFor(settings, itemKey);
      const tokens: number[] = [];
      try {
        // No key/value cache on this path: each new token is one full forward over prompt +
        // answer so far (fine for the short answers of probe sets on small models).
        for (let step = 0; step < settings.maxTokens; step++) {
          // The model writes answerPrefix's space itself (as the first token's leading space).
          // The batch needs a non-empty answer: a trailing placeholder (eos) whose own slot is
          // ignored; causal attention keeps it out of the slot before it, which predicts the next token.
          const last = tf.tidy(() => {
            const logits = model.logits({ pixels, promptIds: [promptIds], answerIds: [[...tokens, eos]] }, { lora: adapterDir !== null }); // [1, T, V]
            const T = logits.shape[1];
            return tf.squeeze(tf.slice(logits, [0, T - 2, 0], [1, 1, -1])); // [V]
          });
          const row = (await last.data()) as Float32Array;
          last.dispose();
          const next = pickToken(row, settings.temperature, 1, rng);
          if (next === eos) break;
          tokens.push(next);
        }
      } finally {
        tf.dispose(pixels);
      }
      return tokens.length === 0 ? '' : tokenizer.decode(tokens).trim();
    },
    dispose: () => model.dispose(),
  };
}
