/**
 * The README's memory table, computed by the estimator from the reference configs, so the
 * numbers in the docs are the estimator's (a test keeps README.md in step with this).
 */
import { DEFAULT_LORA } from '../model/lora';
import { mapHfConfig } from './config';
import type { MemoryEstimate, MemoryPlan } from './memory';
import { estimateMemory } from './memory';
import { REFERENCE_CONFIGS } from './reference-configs';

export const TABLE_PLAN: MemoryPlan = { lora: DEFAULT_LORA, batchSize: 4, promptTokens: 1024, answerTokens: 1024, rowsPerExample: 3 };

/** What a workstation can afford: one pair per micro-batch, 256 prompt + 128 answer tokens. */
export const SMALL_PLAN: MemoryPlan = { lora: DEFAULT_LORA, batchSize: 1, promptTokens: 256, answerTokens: 128, rowsPerExample: 3 };

export function referenceEstimates(plan: MemoryPlan = TABLE_PLAN): { name: string; plain: MemoryEstimate; recompute: MemoryEstimate }[] {
  return Object.entries(REFERENCE_CONFIGS).map(([name, cfg]) => {
    const { vlm, extras } = mapHfConfig(cfg, { bos: 0, eos: 0, pad: 0 }, name);
    return { name, plain: estimateMemory(vlm, extras, { ...plan, recompute: false }), recompute: estimateMemory(vlm, extras, { ...plan, recompute: true }) };
  });
}

const g = (b: number) => (b / 2 ** 30).toFixed(1);

export function memoryTableMarkdown(plan: MemoryPlan = TABLE_PLAN): string {
  const rows = referenceEstimates(plan).map(({ name, plain: p, recompute: r }) =>
    `| ${name} | ${(p.parameters / 1e6).toFixed(0)}M | ${(p.loraParameters / 1e6).toFixed(1)}M | ${p.sequenceLength} | ${g(p.bytes.weights)} | ${g(p.bytes.lora)} | ${g(p.bytes.activations)} | ${g(r.bytes.activations)} | ${g(p.bytes.head)} | ${g(p.bytes.vision)} | ${g(p.bytes.total)} | ${g(r.bytes.total)} |`,
  );
  return [
    '| model | params | LoRA params | positions/row | weights | LoRA + AdamW | activations | activations (recompute) | output head | vision | total | total (recompute) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
