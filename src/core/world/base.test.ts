import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { BUILTIN_SMALL, withOverrides } from '../model/config';
import { Vlm } from '../model/model';
import { Rng } from '../rng';
import { greedyAnswerer, sampler } from './answerers';
import { trainWorldBase, worldModelConfig, worldSftSource, worldTokenizer } from './base';
import { DESCRIBE_PROMPT } from './grammar';
import { buildWorldPreferenceDataset } from './preference';
import { sftExamples } from './sft';
import { evalScenes } from './splits';
import { worldVocabulary } from './vocabulary';

describe('world base model plumbing', () => {
  it('tokenizes every world text without unknown words and round-trips captions', () => {
    const tok = worldTokenizer();
    expect(tok.vocabSize).toBe(5 + worldVocabulary().length);
    const caption = 'a red circle, an orange ring and a green cross.';
    expect(tok.decode(tok.encode(caption))).toBe(caption);
    const source = worldSftSource(sftExamples({ seed: 1, scenes: 30 }), tok);
    const e = source.example(0);
    expect(e.answerIds[e.answerIds.length - 1]).toBe(tok.specials.eos);
    expect(e.image).toHaveLength(32 * 32 * 3);
    expect(source.imageShape).toEqual([32, 32]);
  });

  it('trains a few seeded steps reproducibly, decodes through the answerers, builds a pair dataset', async () => {
    await initBackend('wasm');
    // A tiny config keeps this test to seconds; the shipped base uses BUILTIN_SMALL.
    const config = withOverrides(BUILTIN_SMALL, {
      vision: { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 },
      text: { hiddenSize: 16, numLayers: 1, numHeads: 2, numKeyValueHeads: 1, intermediateSize: 32 },
    });
    const run = () => trainWorldBase({ seed: 3, scenes: 6, batchSize: 4, maxSteps: 2, visionSteps: 2, config });
    const a = await run();
    const b = await run();
    expect(a.result.step).toBe(2);
    expect(a.settings).toMatchObject({ noiseRate: 0.15, noisePlacement: 'random' }); // the shipped data's defaults
    expect(Number.isFinite(a.result.metrics!.loss)).toBe(true);
    expect(b.result.metrics).toEqual(a.result.metrics);
    const scenes = evalScenes(3, 2);
    const greedy = await greedyAnswerer(a.model, a.tokenizer)(scenes, [DESCRIBE_PROMPT, 'Is there a red ring in the image?']);
    expect(greedy).toHaveLength(2);
    const samples = await sampler(a.model, a.tokenizer, 1)(scenes, [DESCRIBE_PROMPT, DESCRIBE_PROMPT], 3);
    expect(samples.map((s) => s.length)).toEqual([3, 3]);
    expect(await sampler(a.model, a.tokenizer, 1)(scenes, [DESCRIBE_PROMPT, DESCRIBE_PROMPT], 3)).toEqual(samples);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'world-pref-'));
    try {
      // Seeded: 6 scenes x 4 samples of this model keep some pairs (asserted, not assumed).
      const built = await buildWorldPreferenceDataset({ model: a.model, tokenizer: a.tokenizer, seed: 1, scenes: 6, samplesPerQuestion: 4, dir });
      expect(built.summary.questions).toBe(6);
      expect(built.summary.kept + built.summary.dropped).toBe(6);
      expect(built.summary.kept).toBeGreaterThan(0);
      const data = JSON.parse(await readFile(path.join(dir, 'data.json'), 'utf8')) as { img_path: string; prompt: string; chosen: string; rejected: string }[];
      expect(data).toHaveLength(built.summary.kept);
      expect(data).toEqual(built.records);
      for (const r of data) {
        expect(Object.keys(r).sort()).toEqual(['chosen', 'img_path', 'prompt', 'rejected']);
        expect(r.chosen).not.toBe(r.rejected);
        expect((await stat(path.join(dir, r.img_path))).size).toBeGreaterThan(0);
      }
      expect(JSON.parse(await readFile(path.join(dir, 'build-report.json'), 'utf8')).summary).toEqual(built.summary);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    a.model.dispose();
    b.model.dispose();
  });

  it('refuses a model config whose vocabulary is too small', () => {
    const tok = worldTokenizer();
    const small = worldModelConfig(tok);
    expect(() => worldModelConfig(tok, { ...small, text: { ...small.text, vocabSize: 10 } })).toThrow('Expected text.vocabSize >= 42');
    Vlm.create(small, new Rng(1)).dispose();
  });
});
