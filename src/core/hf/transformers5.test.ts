/**
 * Folders written by transformers 5 (the golden fixtures of test/fixtures/hf-golden were saved
 * by transformers 5.23), and the image-embedding input the training loop uses: the pieces the
 * golden comparison (test/hf-golden.test.ts) found missing, each with its failure path.
 */
import * as tf from '@tensorflow/tfjs-core';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { readHeader } from './weights';
import { exportMerged } from './adapter';
import { UnsupportedModelError, mapHfConfig } from './config';
import type { LoadedHfModel } from './load';
import { inspectHfFolder, loadHfModel, tensorNameAliases } from './load';
import { tempDir } from './testing/helpers';

const GOLDEN = resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'hf-golden');
const IDS = { bos: 1, eos: 2, pad: 0 };
const QWEN = { model_type: 'llava', vision_config: { model_type: 'siglip_vision_model', image_size: 32, patch_size: 8 }, image_token_index: 3 };

beforeAll(async () => {
  await initBackend('cpu');
});

describe('config.json of transformers 5: rope_parameters', () => {
  it('rope_theta is read from rope_parameters (transformers 5) and from the top level (older)', () => {
    const v5 = mapHfConfig({ ...QWEN, text_config: { model_type: 'qwen2', vocab_size: 8, rope_parameters: { rope_type: 'default', rope_theta: 1e6 } } }, IDS);
    expect(v5.vlm.text.ropeTheta).toBe(1e6);
    const v4 = mapHfConfig({ ...QWEN, text_config: { model_type: 'qwen2', vocab_size: 8, rope_theta: 5e5 } }, IDS);
    expect(v4.vlm.text.ropeTheta).toBe(5e5);
  });

  it('a rope_parameters rope_type other than default is refused, naming the key', () => {
    const cfg = { ...QWEN, text_config: { model_type: 'qwen2', vocab_size: 8, rope_parameters: { rope_type: 'yarn', rope_theta: 1e6, factor: 4 } } };
    expect(() => mapHfConfig(cfg, IDS)).toThrow(UnsupportedModelError);
    expect(() => mapHfConfig(cfg, IDS)).toThrow(/config\.json text_config: rope_parameters .*yarn.* is not supported/);
  });

  it('a rope_theta of the wrong type inside rope_parameters is an error naming it', () => {
    const cfg = { ...QWEN, text_config: { model_type: 'qwen2', vocab_size: 8, rope_parameters: { rope_type: 'default', rope_theta: 'big' } } };
    expect(() => mapHfConfig(cfg, IDS)).toThrow(/rope_parameters: expected rope_theta to be a number/);
  });
});

describe('tensor names of transformers 5', () => {
  it('LLaVA names have their transformers 5 / in-memory spellings; Idefics3 names have none', () => {
    expect(tensorNameAliases('vision_tower.vision_model.embeddings.patch_embedding.weight')).toContain('vision_tower.embeddings.patch_embedding.weight');
    expect(tensorNameAliases('language_model.model.layers.0.self_attn.q_proj.weight')).toEqual(['model.language_model.layers.0.self_attn.q_proj.weight']);
    expect(tensorNameAliases('language_model.lm_head.weight')).toEqual(['lm_head.weight']);
    expect(tensorNameAliases('image_newline')).toEqual(['model.image_newline']);
    expect(tensorNameAliases('model.text_model.layers.0.mlp.up_proj.weight')).toEqual([]);
  });
});

describe('a transformers 5 folder (golden llava-llama: CLIP saved as vision_tower.*, processor_config.json image_processor)', () => {
  let loaded: LoadedHfModel;
  let tmp: { dir: string; cleanup: () => Promise<void> };

  beforeAll(async () => {
    loaded = await loadHfModel(join(GOLDEN, 'llava-llama', 'model'), { skipMemoryCheck: true, plan: { recompute: false } });
    tmp = await tempDir('v5');
  });
  afterAll(async () => {
    loaded?.model.dispose();
    await tmp?.cleanup();
  });

  it('loads the vision tower from its transformers 5 names and remembers them', () => {
    expect(loaded.model.fileNames.get('vision_tower.vision_model.embeddings.patch_embedding.weight')).toBe('vision_tower.embeddings.patch_embedding.weight');
    // CLIP's post_layernorm is unused by LLaVA (hidden_states[-2]): reported under its file name.
    expect(loaded.notes.join('\n')).toContain('vision_tower.post_layernorm.weight');
  });

  it('the merged export keeps the source spelling: exactly the source tensor names, none twice', async () => {
    const out = join(tmp.dir, 'merged');
    await exportMerged(out, loaded.model);
    const src = [...(await readHeader(join(GOLDEN, 'llava-llama', 'model', 'model.safetensors'))).keys()].sort();
    const got = [...(await readHeader(join(out, 'model.safetensors'))).keys()].sort();
    expect(got).toEqual(src);
    expect(await readdir(out)).toContain('processor_config.json');
  });

  it('the image plan comes from processor_config.json image_processor when there is no preprocessor_config.json', async () => {
    // smolvlm's folder sets resample 1 (LANCZOS) and size.longest_edge there; the defaults would be bicubic and no first resize.
    const { plan } = await inspectHfFolder(join(GOLDEN, 'smolvlm', 'model'));
    expect(plan.resample).toBe('lanczos3');
    expect(plan.longestEdge).toBe(32);
    const llava = await inspectHfFolder(join(GOLDEN, 'llava-llama', 'model'));
    expect(llava.plan.shortestEdge).toBe(32);
  });
});

describe('image embeddings instead of pixels (what the training loop passes)', () => {
  let loaded: LoadedHfModel;

  beforeAll(async () => {
    loaded = await loadHfModel(join(GOLDEN, 'llava-qwen2', 'model'), { skipMemoryCheck: true, plan: { recompute: false } });
  });
  afterAll(() => loaded?.model.dispose());

  const batch = () => ({
    promptIds: [loaded.processor.promptIds('What is in the image?')],
    answerIds: [loaded.processor.answerIds('A red circle.')],
  });

  it('sequenceLogProbs from encodeImages(pixels) equals the same from pixels, and differs from no image', () => {
    const m = loaded.model;
    const S = m.config.vision.imageSize;
    const pixels = tf.randomUniform([1, S, S, 3], -1, 1, 'float32', 7) as tf.Tensor4D;
    const embeds = m.encodeImages(pixels);
    const a = m.sequenceLogProbs({ pixels, ...batch() }).dataSync()[0];
    const b = m.sequenceLogProbs({ pixels: null, imageEmbeds: embeds, ...batch() }).dataSync()[0];
    const none = m.sequenceLogProbs({ pixels: null, ...batch() }).dataSync()[0];
    expect(Math.abs(a - b)).toBeLessThan(1e-5);
    expect(Math.abs(a - none)).toBeGreaterThan(1e-3);
    tf.dispose([pixels, embeds]);
  });

  it('imageEmbeds of the wrong shape are refused with the expected shape', () => {
    const D = loaded.model.config.text.hiddenSize;
    const bad = tf.zeros([1, 3, D]) as tf.Tensor3D;
    expect(() => loaded.model.sequenceLogProbs({ pixels: null, imageEmbeds: bad, ...batch() })).toThrow(
      new RegExp(`Expected imageEmbeds of shape \\[1,${loaded.model.extras.imageSeqLen},${D}\\]`),
    );
    bad.dispose();
  });
});
