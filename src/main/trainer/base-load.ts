/**
 * The tfjs engine's base model, by kind (./base-kind.ts): what it trains, how its data source
 * encodes records, the default learning rate and how the run's adapter is written.
 *
 * - built-in world base / own-format folder: src/core/model's checkpoint; prompts encoded by the
 *   checkpoint's tokenizer; the adapter saved by saveAdapter (PEFT layout + our metadata), which
 *   evaluate / ask read back with loadAdapter.
 * - Hugging Face folder (SmolVLM/Idefics3, LLaVA, LLaVA-OneVision): loadHfModel with the memory
 *   check for this run's batch size and LoRA (activation recomputation on), the processor's chat
 *   template, answer ids (+ end token) and image geometry; the adapter written by
 *   exportPeftAdapter, which answer jobs (src/core/eval/probe-answer.ts) and PEFT read.
 */
import type { SourceOptions } from '../../core/data/source';
import { gib } from '../../core/hf/memory';
import { exportPeftAdapter } from '../../core/hf/adapter';
import { loadHfModel } from '../../core/hf/load';
import { loadCheckpoint, saveAdapter } from '../../core/model/checkpoint';
import type { LoraConfig } from '../../core/model/lora';
import type { Rng } from '../../core/rng';
import type { TrainableModel } from '../../core/train/types';
import { BUILTIN_BASE, type TrainConfig } from '../../shared/schemas';
import { baseKind } from './base-kind';

/**
 * Peak learning rate when the config leaves it null: the paper's 1e-5 (docs/objective.md#defaults) for real models; the
 * built-in ~0.4M-parameter model needs a far larger one for LoRA to move in a few hundred steps.
 */
export const BUILTIN_DEFAULT_LR = 1e-3;
export const REAL_MODEL_DEFAULT_LR = 1e-5;

export interface LoadedBase {
  kind: 'builtin' | 'own' | 'hf';
  model: TrainableModel & { addLora(c: LoraConfig, rng: Rng): unknown; dispose(): void };
  /** Everything createPreferenceSource needs but the negative strategy and the image cache. */
  sourceOptions: Pick<SourceOptions, 'tokenizer' | 'endTokenId' | 'encodePrompt' | 'preprocess'>;
  defaultLearningRate: number;
  /** Writes the trained adapter in PEFT's layout to `dir`. */
  saveAdapter(dir: string, meta: { runId: number; step: number }): Promise<void>;
  notes: string[];
}

/** Loads the base in `dir` (the pinned copy for the built-in base; config.baseModel otherwise). */
export async function loadBase(dir: string, config: TrainConfig, lora: LoraConfig, backendName: string): Promise<LoadedBase> {
  const kind = await baseKind(config.baseModel === BUILTIN_BASE ? BUILTIN_BASE : dir);
  if (kind.kind === 'hf') return loadHfBase(dir, config, lora, backendName);
  const { model, tokenizer } = await loadCheckpoint(dir).catch((error: Error) => {
    throw new Error(`Cannot load the base model from ${dir}: ${error.message}`, { cause: error });
  });
  if (!tokenizer) {
    model.dispose();
    throw new Error(`The base model ${dir} has no tokenizer.json.`);
  }
  const size = model.config.vision.imageSize;
  return {
    kind: kind.kind,
    model,
    sourceOptions: { tokenizer, endTokenId: tokenizer.specials.eos, preprocess: { size: [size, size] } },
    defaultLearningRate: model.config.family === 'builtin' ? BUILTIN_DEFAULT_LR : REAL_MODEL_DEFAULT_LR,
    saveAdapter: (out, meta) => saveAdapter(out, model, { mdpo_studio_run: meta.runId, step: meta.step }),
    notes: [],
  };
}

async function loadHfBase(dir: string, config: TrainConfig, lora: LoraConfig, backendName: string): Promise<LoadedBase> {
  // The memory check is made for this run's micro-batch and adapters, with recomputation on
  // (without it even SmolVLM-256M needs ~24 GiB; src/core/hf/README.md#memory-estimates-float32-this-implementation).
  const loaded = await loadHfModel(dir, { plan: { batchSize: config.batchSize, lora, recompute: true }, backend: backendName }).catch((error: Error) => {
    throw new Error(`Cannot load the Hugging Face base model ${dir} (config.baseModel): ${error.message}`, { cause: error });
  });
  const { model, processor, estimate } = loaded;
  const b = estimate.bytes;
  const notes = [
    `Hugging Face base ${dir} (${model.extras.modelType}, ${(estimate.parameters / 1e6).toFixed(2)}M parameters); memory estimate ${gib(b.total)} ` +
      `(weights ${gib(b.weights)}, LoRA + AdamW ${gib(b.lora)}, activations with recomputation ${gib(b.activations)}) at ${estimate.sequenceLength} positions per row`,
    ...loaded.notes,
  ];
  return {
    kind: 'hf',
    model,
    sourceOptions: processor.sourceOptions(),
    defaultLearningRate: REAL_MODEL_DEFAULT_LR,
    saveAdapter: (out) => exportPeftAdapter(out, model, { baseModelNameOrPath: dir }),
    notes,
  };
}
