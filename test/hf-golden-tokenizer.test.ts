/**
 * Tokenizer parity with Hugging Face (issue 14): our HfTokenizer (@huggingface/tokenizers over
 * the folder's tokenizer.json + tokenizer_config.json) against the ids transformers' tokenizer
 * gave for the same >= 200 strings (unicode, whitespace runs, special tokens inside text,
 * numbers, punctuation), with and without special tokens, for every family's tokenizer
 * (byte-level BPE, Qwen2's split regex + byte level, Llama-2 sentencepiece BPE with byte
 * fallback). Goldens: test/fixtures/hf-golden/<family>/tokenizer-parity.json.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HfTokenizer } from '../src/core/hf/processor';
import { FAMILIES, GOLDEN_ROOT } from './hf-golden-support';

interface ParityEntry {
  plain: number[];
  specials: number[];
}

describe.each(FAMILIES)('HF golden %s: tokenizer parity with transformers', (family) => {
  it('equal ids on every string of tokenizer-strings.json, with and without special tokens', async () => {
    const strings = JSON.parse(await readFile(join(GOLDEN_ROOT, 'tokenizer-strings.json'), 'utf8')) as string[];
    const want = JSON.parse(await readFile(join(GOLDEN_ROOT, family, 'tokenizer-parity.json'), 'utf8')) as ParityEntry[];
    expect(strings.length).toBeGreaterThanOrEqual(200);
    expect(want).toHaveLength(strings.length);
    const tok = await HfTokenizer.load(join(GOLDEN_ROOT, family, 'model'));
    const mismatches: string[] = [];
    strings.forEach((s, i) => {
      const plain = tok.encode(s);
      const specials = tok.encodeWithSpecials(s);
      if (JSON.stringify(plain) !== JSON.stringify(want[i].plain)) mismatches.push(`${JSON.stringify(s)} plain: ours ${JSON.stringify(plain)} HF ${JSON.stringify(want[i].plain)}`);
      if (JSON.stringify(specials) !== JSON.stringify(want[i].specials)) mismatches.push(`${JSON.stringify(s)} with specials: ours ${JSON.stringify(specials)} HF ${JSON.stringify(want[i].specials)}`);
    });
    expect(mismatches).toEqual([]);
    // The strings really exercise the tokenizer: special tokens split out, byte fallback / byte level used.
    const ids = new Set(want.flatMap((w) => w.plain));
    expect(ids.size).toBeGreaterThan(150);
  });
});
