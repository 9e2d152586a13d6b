import * as tf from '@tensorflow/tfjs-core';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { bf16ToF32, encodeSafetensors, f16ToF32, f32ToBf16, f32ToF16 } from '../model/safetensors';
import { Rng } from '../rng';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, exportPeftAdapter, importPeftAdapter } from './adapter';
import { UnsupportedModelError } from './config';
import { loadHfModel } from './load';
import { InsufficientMemoryError } from './memory';
import { longestEdgeSize, preprocessImage, shortestEdgeSize } from './processor';
import { writeTinyHfFolder } from './testing/fixtures';
import { tempDir } from './testing/helpers';

let tmp: { dir: string; cleanup: () => Promise<void> };
let n = 0;
const fresh = () => join(tmp.dir, `m${++n}`);
const LORA = { rank: 2, alpha: 4, dropout: 0, targetModules: ['q_proj', 'v_proj', 'down_proj'] };

beforeAll(async () => {
  await initBackend('wasm');
  tmp = await tempDir('loader');
});
afterAll(async () => {
  await tmp.cleanup();
});

const quick = { skipMemoryCheck: true };

describe('weights: dtypes, shards, errors naming file and tensor', () => {
  it('BF16 and F16 files load as float32 equal to the rounded F32 values', async () => {
    const f32 = await writeTinyHfFolder(fresh(), 'smolvlm', { dtype: 'F32', seed: 4 });
    const bf = await writeTinyHfFolder(fresh(), 'smolvlm', { dtype: 'BF16', seed: 4 });
    const h = await writeTinyHfFolder(fresh(), 'smolvlm', { dtype: 'F16', seed: 4 });
    const [a, b, c] = await Promise.all([f32, bf, h].map((f) => loadHfModel(f.dir, quick)));
    for (const name of ['model.text_model.layers.0.self_attn.q_proj.weight', 'model.vision_model.embeddings.patch_embedding.weight', 'lm_head.weight']) {
      const x = a.model.params.get(name).dataSync();
      const y = b.model.params.get(name).dataSync();
      const z = c.model.params.get(name).dataSync();
      expect(b.model.params.get(name).dtype).toBe('float32');
      for (let i = 0; i < x.length; i++) {
        expect(y[i]).toBe(bf16ToF32(f32ToBf16(x[i])));
        expect(z[i]).toBe(f16ToF32(f32ToF16(x[i])));
      }
    }
    for (const l of [a, b, c]) l.model.dispose();
  });

  it('a sharded folder (model.safetensors.index.json) loads the same weights as one file', async () => {
    const one = await loadHfModel((await writeTinyHfFolder(fresh(), 'llava-llama', { seed: 8 })).dir, quick);
    const shardedFolder = await writeTinyHfFolder(fresh(), 'llava-llama', { seed: 8, sharded: true });
    const two = await loadHfModel(shardedFolder.dir, quick);
    expect(two.model.params.names().sort()).toEqual(one.model.params.names().sort());
    for (const name of one.model.params.names()) {
      expect(Array.from(two.model.params.get(name).dataSync())).toEqual(Array.from(one.model.params.get(name).dataSync()));
    }
    one.model.dispose();
    two.model.dispose();
  });

  it('a missing tensor is named with its file', async () => {
    const f = await writeTinyHfFolder(fresh(), 'smolvlm', { mutate: (t) => t.delete('model.text_model.layers.1.mlp.up_proj.weight') });
    await expect(loadHfModel(f.dir, quick)).rejects.toThrow(/Missing tensor model\.text_model\.layers\.1\.mlp\.up_proj\.weight .*model\.safetensors/);
  });

  it('a shape that disagrees with config.json names file, tensor and both shapes', async () => {
    const f = await writeTinyHfFolder(fresh(), 'llava-qwen2', {
      mutate: (t) => t.set('multi_modal_projector.linear_1.weight', { dtype: 'F32', shape: [32, 8], data: new Float32Array(256) }),
    });
    await expect(loadHfModel(f.dir, quick)).rejects.toThrow(/model\.safetensors: tensor multi_modal_projector\.linear_1\.weight has shape \[32,8\], but config\.json implies \[32,16\]/);
  });

  it('a shard index that points outside the folder is refused', async () => {
    const f = await writeTinyHfFolder(fresh(), 'smolvlm', { sharded: true });
    const indexPath = join(f.dir, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    const first = Object.keys(index.weight_map)[0];
    await copyFile(join(f.dir, index.weight_map[first]), join(tmp.dir, 'outside.safetensors'));
    index.weight_map[first] = '../outside.safetensors';
    await writeFile(indexPath, JSON.stringify(index));
    await expect(loadHfModel(f.dir, quick)).rejects.toThrow(/"\.\.\/outside\.safetensors" points outside the model folder/);
    index.weight_map[first] = '/etc/passwd';
    await writeFile(indexPath, JSON.stringify(index));
    await expect(loadHfModel(f.dir, quick)).rejects.toThrow(/is not a relative path inside/);
  });

  it('a truncated weights file is reported with its name', async () => {
    const f = await writeTinyHfFolder(fresh(), 'smolvlm');
    const p = join(f.dir, 'model.safetensors');
    const bytes = await readFile(p);
    await writeFile(p, bytes.subarray(0, bytes.length - 100));
    await expect(loadHfModel(f.dir, quick)).rejects.toThrow(/model\.safetensors: truncated/);
  });
});

describe('config.json: families, defaults and refusals', () => {
  it('an unknown model_type lists the supported ones', async () => {
    const f = await writeTinyHfFolder(fresh(), 'llava-qwen2', { editConfig: (c) => Object.assign(c, { model_type: 'qwen2_vl', architectures: ['Qwen2VLForConditionalGeneration'] }) });
    const err = await loadHfModel(f.dir, quick).catch((e: Error) => e);
    expect(err).toBeInstanceOf(UnsupportedModelError);
    expect((err as Error).message).toMatch(/model_type qwen2_vl \(Qwen2VLForConditionalGeneration\) is not supported\. Supported: idefics3 .*smolvlm .*llava .*llava_onevision/);
  });

  it('refuses what it cannot compute exactly: rope scaling, odd head_dim, Llama o_proj bias, CLIP "full"', async () => {
    const cases: [(c: Record<string, unknown>) => void, RegExp][] = [
      [(c) => Object.assign(c.text_config as object, { rope_scaling: { rope_type: 'llama3', factor: 8 } }), /rope_scaling .* is not supported/],
      [(c) => Object.assign(c.text_config as object, { head_dim: 16 }), /head_dim 16 differs/],
      [(c) => Object.assign(c.text_config as object, { attention_bias: true }), /attention_bias\/mlp_bias/],
      [(c) => Object.assign(c, { vision_feature_select_strategy: 'full' }), /CLIP with vision_feature_select_strategy "full"/],
      [(c) => Object.assign(c, { vision_feature_layer: [-2, -5] }), /several layers/],
    ];
    for (const [edit, msg] of cases) {
      const f = await writeTinyHfFolder(fresh(), 'llava-llama', { editConfig: edit });
      await expect(loadHfModel(f.dir, quick)).rejects.toThrow(msg);
    }
  });

  it('not a folder, no weights, no tokenizer.json: plain errors', async () => {
    await expect(loadHfModel(join(tmp.dir, 'nope'), quick)).rejects.toThrow(/is not a folder .*nothing is downloaded/);
    const f = await writeTinyHfFolder(fresh(), 'smolvlm');
    await rm(join(f.dir, 'model.safetensors'));
    await expect(loadHfModel(f.dir, quick)).rejects.toThrow(/no model\.safetensors and no model\.safetensors\.index\.json/);
    await rm(join(f.dir, 'tokenizer.json'));
    await expect(loadHfModel(f.dir, quick)).rejects.toThrow(/tokenizer\.json/);
  });

  it('refuses before reading any weight when the estimate exceeds the budget, with the numbers', async () => {
    const f = await writeTinyHfFolder(fresh(), 'smolvlm');
    await rm(join(f.dir, 'model.safetensors')); // proves nothing was read
    const err = await loadHfModel(f.dir, { budgetBytes: 1e6 }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(InsufficientMemoryError);
    expect((err as Error).message).toMatch(/needs about \d+\.\d\d GiB \(weights .*LoRA \+ AdamW .*activations .*\) at \d+ positions per row, but the given budget allows 0\.00 GiB/);
  });
});

describe('processor: chat template, image preprocessing', () => {
  it('renders the family chat template and expands the image as the HF processor does', async () => {
    const l = await loadHfModel((await writeTinyHfFolder(fresh(), 'smolvlm')).dir, quick);
    const text = l.tokenizer.applyChatTemplate([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'what?' }] }]);
    expect(text).toBe('<|im_start|>User:<image>what?<end_of_utterance>\nAssistant:');
    expect(l.processor.answerPrefix).toBe(' ');
    const ids = l.processor.promptIds('what?');
    const expanded = '<|im_start|>User:<fake_token_around_image><global-img>' + '<image>'.repeat(4) + '<fake_token_around_image>what?<end_of_utterance>\nAssistant:';
    expect(ids).toEqual(l.tokenizer.encodeWithSpecials(expanded));
    l.model.dispose();
    // Llama-2 style sentencepiece BPE (Prepend '▁' normaliser, byte fallback, <s> post-processor):
    // the answer's own prefix space comes from the tokenizer, as in the whole conversation.
    const ll = await loadHfModel((await writeTinyHfFolder(fresh(), 'llava-llama')).dir, quick);
    expect(ll.tokenizer.applyChatTemplate([{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: 'what?' }] }])).toBe('USER: <image>\nwhat? ASSISTANT:');
    expect(ll.processor.answerPrefix).toBe('');
    expect(ll.tokenizer.tokens('a cat.')).toEqual(['▁a', '▁cat', '.']);
    expect(ll.processor.promptIds('what?')[0]).toBe(ll.tokenizer.specials.bos);
    expect(ll.tokenizer.decode(ll.processor.answerIds('a cat.'))).toBe('a cat.');
    ll.model.dispose();
    const q = await loadHfModel((await writeTinyHfFolder(fresh(), 'onevision')).dir, quick);
    expect(q.processor.answerPrefix).toBe('');
    expect(q.tokenizer.decode(q.processor.promptIds('hi'))).toContain('hi');
    q.model.dispose();
  });

  it('resize sizes follow transformers (Idefics3 longest edge with even rounding, CLIP shortest edge)', () => {
    expect(longestEdgeSize(640, 480, 1536)).toEqual([1536, 1152]);
    expect(longestEdgeSize(333, 500, 2048)).toEqual([1364, 2048]); // int(1363.9) = 1363 -> even 1364
    expect(longestEdgeSize(1000, 3, 512)).toEqual([512, 2]);
    expect(shortestEdgeSize(640, 480, 336)).toEqual([448, 336]);
    expect(shortestEdgeSize(500, 333, 336)).toEqual([504, 336]); // int(504.5)
  });

  it('images: constant colours come out exact; every plan gives [S, S, 3] in [0, 1]', async () => {
    const png = await sharp({ create: { width: 50, height: 20, channels: 3, background: { r: 51, g: 102, b: 153 } } }).png().toBuffer();
    for (const kind of ['smolvlm', 'llava-llama', 'llava-qwen2'] as const) {
      const l = await loadHfModel((await writeTinyHfFolder(fresh(), kind)).dir, quick);
      const img = await l.processor.image(png);
      const S = l.processor.imageShape[0];
      expect(img.length).toBe(S * S * 3);
      for (let i = 0; i < img.length; i += 3) {
        expect([img[i], img[i + 1], img[i + 2]].map((x) => Math.round(x * 255))).toEqual([51, 102, 153]);
      }
      l.model.dispose();
    }
    // CLIP's shortest edge + centre crop keeps the middle of a wide image.
    const half = await sharp({ create: { width: 64, height: 16, channels: 3, background: { r: 255, g: 255, b: 255 } } })
      .composite([{ input: await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toBuffer(), left: 24, top: 0 }])
      .png().toBuffer();
    const plan = { size: 16, longestEdge: null, shortestEdge: 16, resample: 'cubic' as const, mean: [0, 0, 0] as [number, number, number], std: [1, 1, 1] as [number, number, number] };
    const crop = await preprocessImage(half, plan);
    expect(Math.max(...crop)).toBe(0); // only the black middle square is left
  });
});

describe('image_size not a multiple of patch_size (SigLIP so400m: 384 px, patch 14)', () => {
  it('the model sees the top-left grid * patch pixels, as HF\'s patch convolution does', async () => {
    const f = await writeTinyHfFolder(fresh(), 'onevision', { editConfig: (c) => Object.assign(c.vision_config as object, { image_size: 18 }) });
    const ppPath = join(f.dir, 'preprocessor_config.json');
    const pp = JSON.parse(await readFile(ppPath, 'utf8'));
    await writeFile(ppPath, JSON.stringify({ ...pp, size: { height: 18, width: 18 } }));
    const l = await loadHfModel(f.dir, quick);
    expect(l.model.config.vision.imageSize).toBe(16);
    expect(l.processor.imageShape).toEqual([16, 16]);
    expect(l.notes.join(' ')).toMatch(/only the top-left 16 px are seen/);
    const raw = Buffer.from(Uint8Array.from({ length: 18 * 18 * 3 }, (_, i) => (i * 37) % 256));
    const png = await sharp(raw, { raw: { width: 18, height: 18, channels: 3 } }).png().toBuffer();
    const img = await l.processor.image(png);
    expect(img.length).toBe(16 * 16 * 3);
    for (let y = 0; y < 16; y++) for (let x = 0; x < 48; x++) expect(Math.round(img[y * 48 + x] * 255)).toBe(raw[y * 54 + x]);
    l.model.dispose();
  });
});

describe('PEFT adapters from elsewhere', () => {
  it('imports list-style target_modules and transformers >= 4.52 key names; refuses what it cannot apply', async () => {
    const folder = await writeTinyHfFolder(fresh(), 'llava-llama');
    const a = await loadHfModel(folder.dir, quick);
    a.model.addLora(LORA, new Rng(2));
    const r = new Rng(3);
    for (const ad of a.model.lora!.adapters.values()) ad.b.assign(tf.tensor(Float32Array.from({ length: ad.b.size }, () => r.normal()), ad.b.shape, 'float32'));
    const dir = fresh();
    await exportPeftAdapter(dir, a.model);
    const cfg = JSON.parse(await readFile(join(dir, ADAPTER_CONFIG), 'utf8'));
    expect(cfg.target_modules).toBe('(?:language_model\\.model|model\\.language_model)\\.layers\\.\\d+\\.(?:self_attn\\.(?:q_proj|v_proj)|mlp\\.(?:down_proj))');
    // Rewrite as PEFT would save it from transformers >= 4.52, with a list of targets.
    const { readHeader, readTensor } = await import('./weights');
    const header = await readHeader(join(dir, ADAPTER_WEIGHTS));
    const renamed: [string, { dtype: 'F32'; shape: number[]; data: Float32Array }][] = [];
    for (const [k, e] of header) renamed.push([k.replace('base_model.model.language_model.model.', 'base_model.model.model.language_model.'), { dtype: 'F32', shape: e.shape, data: await readTensor(e) }]);
    const dir2 = fresh();
    await mkdir(dir2);
    await writeFile(join(dir2, ADAPTER_WEIGHTS), encodeSafetensors(renamed));
    await writeFile(join(dir2, ADAPTER_CONFIG), JSON.stringify({ ...cfg, target_modules: ['q_proj', 'v_proj', 'down_proj'] }));
    const b = await loadHfModel(folder.dir, quick);
    await importPeftAdapter(dir2, b.model);
    expect([...b.model.lora!.adapters.keys()]).toEqual([...a.model.lora!.adapters.keys()]);
    for (const [p, ad] of a.model.lora!.adapters) expect(Array.from(b.model.lora!.adapters.get(p)!.b.dataSync())).toEqual(Array.from(ad.b.dataSync()));
    b.model.removeLora();

    // List targets restricted by layers_to_transform (PEFT applies it to list targets).
    const dir3 = fresh();
    await mkdir(dir3);
    await writeFile(join(dir3, ADAPTER_WEIGHTS), encodeSafetensors(renamed.filter(([k]) => k.includes('.layers.1.self_attn.q_proj.'))));
    await writeFile(join(dir3, ADAPTER_CONFIG), JSON.stringify({ ...cfg, target_modules: ['q_proj'], layers_to_transform: [1] }));
    await importPeftAdapter(dir3, b.model);
    expect([...b.model.lora!.adapters.keys()]).toEqual(['language_model.model.layers.1.self_attn.q_proj']);
    b.model.removeLora();

    for (const [edit, msg] of [
      [{ use_dora: true }, /DoRA/],
      [{ bias: 'all' }, /bias all/],
      [{ peft_type: 'IA3' }, /peft_type IA3/],
      [{ target_modules: 'vision_tower\\..*' }, /matches none of the language model's linear layers/],
      [{ target_modules: '(?P<x>q_proj)' }, /not a regex this loader can read/],
    ] as const) {
      await writeFile(join(dir2, ADAPTER_CONFIG), JSON.stringify({ ...cfg, ...edit }));
      await expect(importPeftAdapter(dir2, b.model)).rejects.toThrow(msg);
    }
    // Adapters on the vision tower (PEFT's suffix match of a list does that) cannot be applied here.
    renamed.push(['base_model.model.vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.lora_A.weight', { dtype: 'F32', shape: [2, 16], data: new Float32Array(32) }]);
    await writeFile(join(dir2, ADAPTER_WEIGHTS), encodeSafetensors(renamed));
    await writeFile(join(dir2, ADAPTER_CONFIG), JSON.stringify(cfg));
    await expect(importPeftAdapter(dir2, b.model)).rejects.toThrow(/does not adapt .*vision_tower/);
    expect(b.model.lora).toBeNull();
    a.model.dispose();
    b.model.dispose();
  });
});
