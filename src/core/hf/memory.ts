/**
 * Memory estimate for training a real checkpoint, before a single weight is read.
 *
 * Everything is float32 (bf16/fp16 weights are widened on load). The parts:
 *   weights      every parameter, 4 bytes each, plus the largest tensor once more while loading
 *   lora         adapters A/B: value + gradient + gradient accumulator + AdamW m and v (5 copies)
 *   activations  what tfjs holds at the peak of a forward + backward in the decoder, for the
 *                policy rows of one micro-batch (mDPO: chosen, rejected and chosen-with-m' =
 *                3 rows per pair): per token and layer, 24 D + 11 KV + 7 I + 3 H T floats of op
 *                outputs (one Llama block with LoRA on every linear; 3 H T are the attention
 *                matrices), times TAPE_FACTOR: tfjs keeps the tape's saved tensors AND every
 *                intermediate gradient until the backward pass ends. With recomputation: each
 *                block's input and its gradient (2 D per token and layer) plus one block's
 *                full set during its backward.
 *   head         the output head at the answer slots: logits, log-softmax, one-hot, product
 *                and their gradients (6 floats per answer token and vocabulary entry)
 *   vision       one vision-tower forward (no gradient with LoRA: transient, one layer at a time)
 * These are estimates of this implementation (no fused kernels, no flash attention), not of
 * PyTorch's; they are meant to refuse plainly what cannot fit, not to budget to the byte.
 */
import { freemem, totalmem } from 'node:os';
import type { VlmConfig } from '../model/config';
import type { LoraConfig } from '../model/lora';
import { loraTargetPaths } from '../model/lora';
import { parameterSpecs } from '../model/params';
import type { HfExtras } from './config';

export interface MemoryPlan {
  lora: LoraConfig;
  /** Pairs (or examples) per micro-batch. */
  batchSize: number;
  /** Text tokens of the prompt, image placeholders excluded. */
  promptTokens: number;
  answerTokens: number;
  /** Policy rows per example in one forward: 3 for mDPO, 2 for DPO, 1 for SFT. */
  rowsPerExample?: number;
  recompute?: boolean;
}

export interface MemoryEstimate {
  parameters: number;
  loraParameters: number;
  /** Decoder positions per row: prompt + image + answer. */
  sequenceLength: number;
  bytes: { weights: number; lora: number; activations: number; head: number; vision: number; total: number };
}

const F32 = 4;

/**
 * Measured on tfjs 4.22 (wasm): peak bytes of forward + backward over the per-layer op-output
 * count above, on tiny SmolVLM and LLaVA-Qwen2 models at several lengths and batch sizes
 * (3.56-3.67; memory.test.ts re-measures and keeps the estimate within [0.75, 1.35] of it).
 */
export const TAPE_FACTOR = 3.7;

export function estimateMemory(c: VlmConfig, extras: Pick<HfExtras, 'imageSeqLen' | 'imageNewline'>, plan: MemoryPlan): MemoryEstimate {
  const specs = parameterSpecs(c);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  let parameters = specs.reduce((n, s) => n + size(s.shape), 0) + (extras.imageNewline ? c.text.hiddenSize : 0);
  const largest = Math.max(...specs.map((s) => size(s.shape)));
  const shapes = new Map(specs.map((s) => [s.name, s.shape]));
  let loraParameters = 0;
  for (const path of loraTargetPaths(c, plan.lora)) {
    const [out, inp] = shapes.get(`${path}.weight`) as number[];
    loraParameters += plan.lora.rank * (out + inp);
  }
  const t = c.text;
  const hd = t.hiddenSize / t.numHeads;
  const K = t.numKeyValueHeads * hd;
  const T = plan.promptTokens + extras.imageSeqLen + plan.answerTokens;
  const rows = plan.batchSize * (plan.rowsPerExample ?? 3);
  const perTokenLayer = 24 * t.hiddenSize + 11 * K + 7 * t.intermediateSize + 3 * t.numHeads * T;
  const activations = plan.recompute
    ? rows * T * (2 * t.numLayers * t.hiddenSize + TAPE_FACTOR * perTokenLayer) * F32
    : rows * T * t.numLayers * perTokenLayer * TAPE_FACTOR * F32;
  const head = rows * plan.answerTokens * t.vocabSize * 6 * F32;
  const v = c.vision;
  const Np = (v.imageSize / v.patchSize) ** 2 + (v.useClassToken ? 1 : 0);
  const vision = rows * Np * (6 * v.hiddenSize + 2 * v.intermediateSize + 2 * v.numHeads * Np) * F32;
  parameters = Math.round(parameters);
  const bytes = {
    weights: (parameters + largest) * F32,
    lora: loraParameters * 5 * F32,
    activations,
    head,
    vision,
    total: 0,
  };
  bytes.total = bytes.weights + bytes.lora + bytes.activations + bytes.head + bytes.vision;
  return { parameters, loraParameters, sequenceLength: T, bytes };
}

export class InsufficientMemoryError extends Error {
  override name = 'InsufficientMemoryError';
  constructor(readonly estimate: MemoryEstimate, readonly budgetBytes: number, readonly budgetSource: string) {
    const b = estimate.bytes;
    super(
      `Not enough memory to train this model: needs about ${gib(b.total)} (weights ${gib(b.weights)}, LoRA + AdamW ${gib(b.lora)}, ` +
        `activations ${gib(b.activations)}, output head ${gib(b.head)}, vision ${gib(b.vision)}) at ${estimate.sequenceLength} positions per row, ` +
        `but ${budgetSource} allows ${gib(budgetBytes)}. Lower the batch size or the lengths, turn on activation recomputation, or use a smaller model.`,
    );
  }
}

export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

/** The wasm backend addresses at most 4 GiB (wasm32). */
export const WASM_LIMIT_BYTES = 4 * 2 ** 30;

/** What we may use: an explicit budget (e.g. a GPU's), else free RAM; capped at 4 GiB on wasm. */
export function memoryBudget(opts: { budgetBytes?: number; backend?: string }): { bytes: number; source: string } {
  let bytes = opts.budgetBytes ?? freemem();
  let source = opts.budgetBytes !== undefined ? 'the given budget' : `free memory (of ${gib(totalmem())} total)`;
  if (opts.backend === 'wasm' && bytes > WASM_LIMIT_BYTES) {
    bytes = WASM_LIMIT_BYTES;
    source = 'the wasm backend (4 GiB address space)';
  }
  return { bytes, source };
}

/** Throws InsufficientMemoryError when the estimate exceeds the budget. */
export function checkMemory(estimate: MemoryEstimate, budget: { bytes: number; source: string }): void {
  if (estimate.bytes.total > budget.bytes) throw new InsufficientMemoryError(estimate, budget.bytes, budget.source);
}
