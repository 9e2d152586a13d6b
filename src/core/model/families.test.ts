/** The same code in LLaVA and Idefics3 (SmolVLM) configurations: HF names, shapes, behaviour. */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { loadCheckpoint, saveCheckpoint } from './checkpoint';
import { withOverrides } from './config';
import { DEFAULT_LORA } from './lora';
import { Vlm } from './model';
import { parameterSpecs } from './params';
import { normalizeImage, pixelsFromImages } from './pixels';
import { TINY, maxAbsDiff, raggedBatch, seeded, seededPixels } from './test-utils';
import { pixelShuffle } from './vision';

const LLAVA = withOverrides(TINY, {
  family: 'llava',
  vision: { useClassToken: true, featureLayer: -2, preLayerNorm: true, postLayerNorm: false, patchBias: false, hiddenAct: 'quick_gelu' },
  text: { attentionBias: true, tieWordEmbeddings: false },
});
const IDEFICS3 = withOverrides(TINY, {
  family: 'idefics3',
  vision: { imageSize: 32, patchSize: 8, postLayerNorm: true, patchBias: true },
  connector: { type: 'pixel_shuffle', scaleFactor: 2 },
  text: { tieWordEmbeddings: false },
});

describe('architecture families', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('LLaVA: HF names and shapes (CLIP class token, pre_layrnorm, q/k/v bias, untied head)', () => {
    const specs = new Map(parameterSpecs(LLAVA).map((s) => [s.name, s.shape]));
    const V = 'vision_tower.vision_model.';
    expect(specs.get(`${V}embeddings.patch_embedding.weight`)).toEqual([16, 3, 8, 8]);
    expect(specs.has(`${V}embeddings.patch_embedding.bias`)).toBe(false);
    expect(specs.get(`${V}embeddings.class_embedding`)).toEqual([16]);
    expect(specs.get(`${V}embeddings.position_embedding.weight`)).toEqual([5, 16]);
    expect(specs.has(`${V}pre_layrnorm.weight`)).toBe(true);
    expect(specs.has(`${V}post_layernorm.weight`)).toBe(false);
    expect(specs.get(`${V}encoder.layers.1.self_attn.out_proj.weight`)).toEqual([16, 16]);
    expect(specs.get('multi_modal_projector.linear_1.weight')).toEqual([24, 16]);
    expect(specs.get('multi_modal_projector.linear_2.bias')).toEqual([24]);
    expect(specs.get('language_model.model.layers.0.self_attn.k_proj.weight')).toEqual([12, 24]); // 2 kv heads x 6
    expect(specs.get('language_model.model.layers.0.self_attn.k_proj.bias')).toEqual([12]);
    expect(specs.has('language_model.model.layers.0.self_attn.o_proj.bias')).toBe(false);
    expect(specs.get('language_model.lm_head.weight')).toEqual([20, 24]);
  });

  it('LLaVA: featureLayer -2 never reads the last vision layer; the class token is dropped', () => {
    const m = Vlm.create(LLAVA, new Rng(1));
    const px = seededPixels(2, LLAVA, 2);
    const before = m.encodeImages(px);
    expect(before.shape).toEqual([2, 4, 24]);
    const last = m.params.get('vision_tower.vision_model.encoder.layers.1.mlp.fc2.weight');
    last.assign(tf.tidy(() => tf.add(last, 1)));
    const after = m.encodeImages(px);
    expect(maxAbsDiff(before.dataSync(), after.dataSync())).toBe(0);
    const first = m.params.get('vision_tower.vision_model.encoder.layers.0.mlp.fc2.weight');
    first.assign(tf.tidy(() => tf.add(first, 1)));
    const changed = m.encodeImages(px);
    expect(maxAbsDiff(before.dataSync(), changed.dataSync())).toBeGreaterThan(1e-3);
    tf.dispose([before, after, changed, px]);
    m.dispose();
  });

  it('Idefics3: HF names, pixel shuffle connector, LoRA only on the text model, shared prefix == full', () => {
    const specs = new Map(parameterSpecs(IDEFICS3).map((s) => [s.name, s.shape]));
    expect(specs.get('model.vision_model.embeddings.patch_embedding.bias')).toEqual([16]);
    expect(specs.get('model.vision_model.post_layernorm.weight')).toEqual([16]);
    expect(specs.get('model.connector.modality_projection.proj.weight')).toEqual([24, 64]);
    expect(specs.get('model.text_model.layers.1.mlp.down_proj.weight')).toEqual([24, 40]);
    expect(specs.get('model.text_model.norm.weight')).toEqual([24]);
    expect(specs.get('lm_head.weight')).toEqual([20, 24]);
    const m = Vlm.create(IDEFICS3, new Rng(3));
    expect(m.numImageTokens).toBe(4);
    m.addLora({ ...DEFAULT_LORA, rank: 2, alpha: 4 }, new Rng(4));
    expect([...m.lora!.adapters.keys()].every((p) => p.startsWith('model.text_model.layers.'))).toBe(true);
    for (const ad of m.lora!.adapters.values()) ad.b.assign(tf.tensor(seeded(ad.b.size, 5, -0.2, 0.2), ad.b.shape));
    const px = seededPixels(2, IDEFICS3, 6);
    const { promptIds, answerIds } = raggedBatch(IDEFICS3, 2, 7);
    const other = raggedBatch(IDEFICS3, 2, 8).answerIds;
    const pair = m.pairLogProbs({ pixels: px, promptIds, chosenIds: answerIds, rejectedIds: other });
    const full = m.sequenceLogProbs({ pixels: px, promptIds, answerIds });
    expect(maxAbsDiff(pair.chosen.dataSync(), full.dataSync())).toBeLessThan(1e-5);
    tf.dispose([pair.chosen, pair.rejected, full, px]);
    m.dispose();
  });

  it('pixel shuffle equals HF view/permute index arithmetic', () => {
    const [B, side, D, s] = [1, 4, 3, 2];
    const x = tf.tensor3d(Array.from({ length: B * side * side * D }, (_, i) => i), [B, side * side, D]);
    const got = pixelShuffle(x, s).arraySync() as number[][][];
    // HF: x.view(B, h, w, D) -> view(B, h, w/s, D*s) -> permute(0,2,1,3)
    //     -> reshape(B, w/s, h/s, D*s*s) -> permute(0,2,1,3) -> reshape(B, seq/s^2, D*s^2)
    // Output token (i, j) over the (h/s, w/s) grid holds, in order, for each row r of the
    // s-block: the s*D values of patch row (i*s + r), patches j*s .. j*s + s - 1.
    const want: number[][] = [];
    for (let i = 0; i < side / s; i++) {
      for (let j = 0; j < side / s; j++) {
        const tok: number[] = [];
        for (let r = 0; r < s; r++) for (let c = 0; c < s; c++) for (let d = 0; d < D; d++) tok.push(((i * s + r) * side + j * s + c) * D + d);
        want.push(tok);
      }
    }
    expect(got[0]).toEqual(want);
    x.dispose();
  });

  it('checkpoints round-trip for Idefics3 and LLaVA layouts; images normalise with the config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mdpo-families-'));
    for (const cfg of [IDEFICS3, LLAVA]) {
      const m = Vlm.create(cfg, new Rng(9));
      await saveCheckpoint(dir, m);
      const { model: m2 } = await loadCheckpoint(dir);
      const px = seededPixels(1, cfg, 10);
      const batch = { pixels: px, promptIds: [[5, 6]], answerIds: [[7, 2]] };
      const a = m.sequenceLogProbs(batch);
      const b = m2.sequenceLogProbs(batch);
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([a, b, px]);
      m.dispose();
      m2.dispose();
    }
    await rm(dir, { recursive: true, force: true });
    const img = new Float32Array(16 * 16 * 3).fill(1);
    expect(normalizeImage(TINY, img)[0]).toBe(1); // (1 - 0.5) / 0.5
    const t = pixelsFromImages(TINY, [img, new Float32Array(16 * 16 * 3)]);
    expect(t.shape).toEqual([2, 16, 16, 3]);
    expect(t.dataSync()[16 * 16 * 3]).toBe(-1);
    t.dispose();
    expect(() => normalizeImage(TINY, new Float32Array(5))).toThrow('Expected an image of 16x16x3 = 768 values');
  });
});
