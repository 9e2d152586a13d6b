import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LORA } from '../model/lora';
import { mapHfConfig } from './config';
import { InsufficientMemoryError, WASM_LIMIT_BYTES, checkMemory, estimateMemory, memoryBudget } from './memory';
import { SMALL_PLAN, memoryTableMarkdown, referenceEstimates } from './memory-table';
import { REFERENCE_CONFIGS } from './reference-configs';

describe('memory estimate', () => {
  it('the reference configs map to their published sizes (checks the config defaults)', () => {
    const params = Object.fromEntries(referenceEstimates().map((e) => [e.name, e.plain.parameters]));
    expect(params['SmolVLM-256M'] / 1e6).toBeGreaterThan(245);
    expect(params['SmolVLM-256M'] / 1e6).toBeLessThan(265);
    expect(params['SmolVLM-500M'] / 1e6).toBeGreaterThan(490);
    expect(params['SmolVLM-500M'] / 1e6).toBeLessThan(520);
    expect(params['LLaVA-OneVision-0.5B'] / 1e6).toBeGreaterThan(880);
    expect(params['LLaVA-OneVision-0.5B'] / 1e6).toBeLessThan(910);
    expect(params['LLaVA-1.5-7B'] / 1e9).toBeGreaterThan(7.0);
    expect(params['LLaVA-1.5-7B'] / 1e9).toBeLessThan(7.1);
    const seq = Object.fromEntries(referenceEstimates().map((e) => [e.name, e.plain.sequenceLength]));
    expect(seq).toEqual({ 'SmolVLM-256M': 2048 + 64, 'SmolVLM-500M': 2048 + 64, 'LLaVA-OneVision-0.5B': 2048 + 730, 'LLaVA-1.5-7B': 2048 + 576 });
  });

  it('LoRA parameters are r (in + out) per targeted linear of the language model only', () => {
    const { vlm, extras } = mapHfConfig(REFERENCE_CONFIGS['LLaVA-1.5-7B'], { bos: 1, eos: 2, pad: 0 });
    const e = estimateMemory(vlm, extras, { lora: { ...DEFAULT_LORA, rank: 8, targetModules: ['q_proj'] }, batchSize: 1, promptTokens: 10, answerTokens: 10 });
    expect(e.loraParameters).toBe(32 * 8 * (4096 + 4096));
    expect(e.bytes.lora).toBe(e.loraParameters * 4 * 5);
  });

  it('recomputation shrinks activations; more tokens need more; the budget refuses with the numbers', () => {
    for (const { plain, recompute } of referenceEstimates()) {
      expect(recompute.bytes.activations).toBeLessThan(plain.bytes.activations / 5);
      expect(recompute.bytes.weights).toBe(plain.bytes.weights);
    }
    const { vlm, extras } = mapHfConfig(REFERENCE_CONFIGS['SmolVLM-256M'], { bos: 1, eos: 2, pad: 0 });
    const small = estimateMemory(vlm, extras, { lora: DEFAULT_LORA, batchSize: 1, promptTokens: 64, answerTokens: 64 });
    const big = estimateMemory(vlm, extras, { lora: DEFAULT_LORA, batchSize: 1, promptTokens: 512, answerTokens: 512 });
    expect(big.bytes.activations).toBeGreaterThan(small.bytes.activations * 8);
    expect(() => checkMemory(big, { bytes: big.bytes.total - 1, source: 'a test' })).toThrow(InsufficientMemoryError);
    expect(() => checkMemory(big, { bytes: big.bytes.total, source: 'a test' })).not.toThrow();
    expect(memoryBudget({ budgetBytes: 64 * 2 ** 30, backend: 'wasm' })).toEqual({ bytes: WASM_LIMIT_BYTES, source: 'the wasm backend (4 GiB address space)' });
    expect(memoryBudget({ budgetBytes: 80e9 }).bytes).toBe(80e9);
  });

  it('README.md carries the estimator’s table', async () => {
    const readme = await readFile(join(__dirname, 'README.md'), 'utf8');
    expect(readme).toContain(memoryTableMarkdown());
    expect(readme).toContain(memoryTableMarkdown(SMALL_PLAN));
  });
});
