import * as tf from '@tensorflow/tfjs-core';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { Rng } from '../rng';
import { loadAdapter, loadCheckpoint, readSafetensorsFile, saveAdapter, saveCheckpoint } from './checkpoint';
import { DEFAULT_LORA } from './lora';
import { Vlm } from './model';
import type { NamedTensor } from './safetensors';
import { bf16ToF32, decodeSafetensors, encodeSafetensors, f16ToF32, f32ToBf16, f32ToF16 } from './safetensors';
import { TINY, raggedBatch, seededPixels } from './test-utils';
import { WordTokenizer } from './tokenizer';

let dir = '';

beforeAll(async () => {
  await initBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'mdpo-model-io-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('safetensors', () => {
  const tensors = new Map<string, NamedTensor>([
    ['a.f32', { dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, -2.5, 3e-8, 1e30, 0, -0]) }],
    ['b.f16', { dtype: 'F16', shape: [4], data: Float32Array.from([1, -0.333251953125, 65504, 2 ** -24]) }],
    ['c.bf16', { dtype: 'BF16', shape: [3], data: Float32Array.from([1, -3.140625, 1e20]) }],
    ['d.i32', { dtype: 'I32', shape: [2], data: Int32Array.from([7, -2147483648]) }],
    ['e.i64', { dtype: 'I64', shape: [1, 2], data: Int32Array.from([5, -6]) }],
    ['f.empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
  ]);

  it('round-trips every dtype with metadata and an 8-byte aligned header', () => {
    const bytes = encodeSafetensors(tensors, { format: 'pt', note: 'hi' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'pt', note: 'hi' });
    for (const [name, t] of tensors) {
      const got = back.tensors.get(name)!;
      expect(got.dtype).toBe(t.dtype);
      expect(got.shape).toEqual(t.shape);
      const want = Array.from(t.data);
      if (t.dtype === 'BF16') expect(Array.from(got.data)).toEqual(want.map((x) => bf16ToF32(f32ToBf16(x))));
      else expect(Array.from(got.data)).toEqual(want);
    }
    expect(back.tensors.get('c.bf16')!.data[1]).toBe(-3.140625);
    // Offsets are contiguous, in order, as the reference implementation writes them.
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header['a.f32'].data_offsets).toEqual([0, 24]);
    expect(header['b.f16'].data_offsets).toEqual([24, 32]);
  });

  it('converts half floats exactly on known values', () => {
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(f16ToF32(0xc000)).toBe(-2);
    expect(f16ToF32(0x7bff)).toBe(65504);
    expect(f16ToF32(0x0001)).toBe(2 ** -24);
    expect(f16ToF32(0x7c00)).toBe(Infinity);
    expect(f32ToF16(1)).toBe(0x3c00);
    expect(f32ToF16(1e6)).toBe(0x7c00);
    expect(f32ToF16(2 ** -24)).toBe(0x0001);
    expect(bf16ToF32(0x3f80)).toBe(1);
    expect(f32ToBf16(1)).toBe(0x3f80);
    expect(Number.isNaN(bf16ToF32(f32ToBf16(NaN)))).toBe(true);
  });

  it('gives plain errors naming the file and tensor on corrupt input', () => {
    const bytes = encodeSafetensors(tensors);
    expect(() => decodeSafetensors(bytes.subarray(0, 5), 'x.safetensors')).toThrow('x.safetensors: truncated');
    expect(() => decodeSafetensors(bytes.subarray(0, 40), 'x.safetensors')).toThrow('x.safetensors: truncated or corrupt: header length');
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 3), 'x.safetensors')).toThrow(/x.safetensors: truncated: tensor f?e?.*ends at byte/);
    const bad = bytes.slice();
    bad[9] = 0x7b; // '{' inside the JSON: no longer parses
    bad[10] = 0x7b;
    expect(() => decodeSafetensors(bad, 'y.safetensors')).toThrow('y.safetensors: corrupt header (not JSON)');
    const wrong = encodeSafetensors([['w', { dtype: 'F32', shape: [2], data: Float32Array.from([1, 2]) }]]);
    const text = new TextDecoder().decode(wrong).replace('"shape":[2]', '"shape":[3]');
    expect(() => decodeSafetensors(new TextEncoder().encode(text), 'z.safetensors')).toThrow(
      'z.safetensors: tensor w: F32 [3] needs 12 bytes, but data_offsets span 8',
    );
  });
});

describe('tokenizer', () => {
  it('encodes, decodes and round-trips through tokenizer.json', () => {
    const tok = WordTokenizer.fromCorpus(['A red circle, a blue square.', 'Is there a green cross in the image?', 'yes', 'no']);
    expect(tok.specials).toEqual({ pad: 0, bos: 1, eos: 2, image: 3, unk: 4 });
    const ids = tok.encode('A red circle, a blue square.');
    expect(ids.every((i) => i > 4)).toBe(true);
    expect(tok.decode([tok.specials.bos, ...ids, tok.specials.eos])).toBe('a red circle, a blue square.');
    expect(tok.encode('a purple circle')[1]).toBe(tok.specials.unk);
    const json = JSON.parse(JSON.stringify(tok.toJSON()));
    expect(json.model.type).toBe('WordLevel');
    expect(json.pre_tokenizer.type).toBe('Whitespace');
    const back = WordTokenizer.fromJSON(json);
    expect(back.encode('is there a green cross in the image?')).toEqual(tok.encode('Is there a green cross in the image?'));
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(() => WordTokenizer.fromJSON({ model: { type: 'BPE' } })).toThrow('expected a WordLevel tokenizer');
  });
});

describe('checkpoints', () => {
  it('save/load gives bit-identical weights and log-probs; adapters save/load alone', async () => {
    const m = Vlm.create(TINY, new Rng(1));
    const tok = WordTokenizer.fromCorpus(['a red circle']);
    const px = seededPixels(2, TINY, 2);
    const batch = { pixels: px, ...raggedBatch(TINY, 2, 3) };
    const ck = join(dir, 'base');
    await saveCheckpoint(ck, m, { tokenizer: tok, metadata: { made_by: 'test' } });
    expect((await readdir(ck)).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json']);
    expect((await readSafetensorsFile(join(ck, 'model.safetensors'))).metadata.made_by).toBe('test');
    const { model: m2, tokenizer } = await loadCheckpoint(ck);
    expect(tokenizer!.vocabSize).toBe(tok.vocabSize);
    const a = m.sequenceLogProbs(batch, { lora: false });
    const b = m2.sequenceLogProbs(batch, { lora: false });
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b]);

    m.addLora({ ...DEFAULT_LORA, rank: 2, alpha: 4 }, new Rng(4));
    for (const ad of m.lora!.adapters.values()) ad.b.assign(tf.randomNormal(ad.b.shape, 0, 0.1, 'float32', 5));
    await saveAdapter(join(dir, 'adapter'), m, { run: 7 });
    const cfg = JSON.parse(await readFile(join(dir, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(cfg.r).toBe(2);
    // Only LoraConfig's own keys (older PEFT rejects unknown ones); ours live in the metadata.
    expect(Object.keys(cfg).sort()).toEqual([
      'base_model_name_or_path', 'bias', 'fan_in_fan_out', 'inference_mode', 'init_lora_weights', 'lora_alpha',
      'lora_dropout', 'modules_to_save', 'peft_type', 'r', 'target_modules', 'task_type',
    ]);
    expect((await readSafetensorsFile(join(dir, 'adapter', 'adapter_model.safetensors'))).metadata['mdpo_studio.run']).toBe('7');
    expect(new RegExp(`^${cfg.target_modules}$`).test('language_model.model.layers.1.mlp.down_proj')).toBe(true);
    expect(new RegExp(`^${cfg.target_modules}$`).test('vision_tower.vision_model.encoder.layers.0.self_attn.q_proj')).toBe(false);
    const keys = [...(await readSafetensorsFile(join(dir, 'adapter', 'adapter_model.safetensors'))).tensors.keys()];
    expect(keys).toContain('base_model.model.language_model.model.layers.0.self_attn.q_proj.lora_A.weight');
    await loadAdapter(join(dir, 'adapter'), m2);
    const p1 = m.sequenceLogProbs(batch);
    const p2 = m2.sequenceLogProbs(batch);
    expect(Array.from(p2.dataSync())).toEqual(Array.from(p1.dataSync()));
    tf.dispose([p1, p2, px]);
    m.dispose();
    m2.dispose();
  });

  it('saves half-precision weights (BF16, F16) and loads them back as float32', async () => {
    const m = Vlm.create(TINY, new Rng(7));
    for (const dtype of ['BF16', 'F16'] as const) {
      const ck = join(dir, `half-${dtype}`);
      await saveCheckpoint(ck, m, { dtype });
      const f = await readSafetensorsFile(join(ck, 'model.safetensors'));
      expect(f.tensors.get('language_model.model.norm.weight')!.dtype).toBe(dtype);
      const { model: m2 } = await loadCheckpoint(ck);
      const a = m.params.get('language_model.model.layers.0.mlp.up_proj.weight').dataSync();
      const b = m2.params.get('language_model.model.layers.0.mlp.up_proj.weight').dataSync();
      const tol = dtype === 'BF16' ? 2 ** -8 : 2 ** -11;
      for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(Math.abs(a[i]) * tol + 1e-7);
      m2.dispose();
    }
    m.dispose();
  });

  it('refuses broken checkpoints with the file and tensor named', async () => {
    const m = Vlm.create(TINY, new Rng(6));
    const ck = join(dir, 'broken');
    await saveCheckpoint(ck, m);
    m.dispose();
    const w = join(ck, 'model.safetensors');
    const bytes = await readFile(w);
    await writeFile(w, bytes.subarray(0, bytes.length - 100));
    await expect(loadCheckpoint(ck)).rejects.toThrow(`${w}: truncated: tensor`);
    await writeFile(join(ck, 'config.json'), '{"format": "mdpo-studio-vlm", "vlm": {"family": "gpt"}}');
    await expect(loadCheckpoint(ck)).rejects.toThrow('Expected family to be one of builtin, llava, idefics3, but got gpt');
    const before = tf.memory().numTensors;
    await expect(loadCheckpoint(join(dir, 'nope'))).rejects.toThrow('Cannot read');
    expect(tf.memory().numTensors).toBe(before);
  });
});
