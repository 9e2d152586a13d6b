/**
 * The end-to-end checks every supported family goes through, on a tiny random folder in the
 * exact HF layout: load, processor, forward (against an independent reference), padding,
 * backward, recomputation, finite differences through the family's own code path, a few
 * preference-training steps with the project's loop, PEFT adapter export/import, merged
 * export/reload. Registered by test/hf-*.test.ts. Not imported by production code.
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../backend';
import { objectiveConfig } from '../../objective/variants';
import { Rng } from '../../rng';
import { trainPreference } from '../../train/loop';
import type { StepEvent } from '../../train/types';
import { ADAPTER_CONFIG, exportMerged, exportPeftAdapter, importPeftAdapter } from '../adapter';
import type { LoadedHfModel } from '../load';
import { loadHfModel } from '../load';
import type { TinyFolder, TinyKind } from './fixtures';
import { writeTinyHfFolder } from './fixtures';
import { ProcessorPreferenceSource, batchOf, directionalCheck, maxAbs, naiveLogits, tempDir } from './helpers';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const LORA = { rank: 4, alpha: 8, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] };

/** Every adapter's B set to seeded non-zero values (a fresh adapter is a no-op). */
function perturbB(loaded: LoadedHfModel, seed: number): void {
  const r = new Rng(seed);
  for (const ad of loaded.model.lora!.adapters.values()) {
    ad.b.assign(tf.tensor(Float32Array.from({ length: ad.b.size }, () => 0.3 * r.normal()), ad.b.shape, 'float32'));
  }
}

export interface FamilyChecks {
  /** Parameters whose finite-difference check runs through the family's own path. */
  fdParams: string[];
}

export function familySuite(kind: TinyKind, checks: FamilyChecks): void {
  describe(`HF ${kind}: tiny random folder in the HF layout`, () => {
    let tmp: { dir: string; cleanup: () => Promise<void> };
    let folder: TinyFolder;
    let loaded: LoadedHfModel;
    let src: ProcessorPreferenceSource;

    beforeAll(async () => {
      await initBackend('wasm');
      tmp = await tempDir(kind);
      folder = await writeTinyHfFolder(join(tmp.dir, 'base'), kind, { dtype: 'BF16' });
      loaded = await loadHfModel(folder.dir, { skipMemoryCheck: true });
      src = new ProcessorPreferenceSource(loaded.processor, 4);
    });

    afterAll(async () => {
      loaded?.model.dispose();
      await tmp?.cleanup();
    });

    it('loads every tensor by its HF name; the processor writes one run of image placeholders', () => {
      const m = loaded.model;
      expect(m.extras.imageSeqLen).toBe(folder.imageSeqLen);
      const used = new Set(m.params.names());
      const unused = folder.tensorNames.filter((n) => !used.has(n));
      // Only tensors HF itself does not use in this forward (CLIP/SigLIP post_layernorm in LLaVA).
      expect(unused.every((n) => n.includes('post_layernorm'))).toBe(true);
      if (unused.length > 0) expect(loaded.notes.join(' ')).toMatch(/not used/);
      const p = loaded.processor.promptIds('what is this?');
      const img = m.extras.imageTokenId;
      const s = p.indexOf(img);
      expect(p.filter((x) => x === img).length).toBe(folder.imageSeqLen);
      expect(p.slice(s, s + folder.imageSeqLen).every((x) => x === img)).toBe(true);
      if (kind === 'smolvlm') {
        expect(p[s - 1]).toBe(loaded.tokenizer.tokenToId('<global-img>'));
        expect(p[s - 2]).toBe(loaded.tokenizer.tokenToId('<fake_token_around_image>'));
        expect(p[s + folder.imageSeqLen]).toBe(loaded.tokenizer.tokenToId('<fake_token_around_image>'));
        expect(p[0]).toBe(loaded.tokenizer.tokenToId('<|im_start|>'));
      }
      if (kind === 'llava-llama') expect(p[0]).toBe(loaded.tokenizer.tokenToId('<s>')); // the tokenizer's post-processor
      const a = loaded.processor.answerIds('a cat.');
      expect(a[a.length - 1]).toBe(loaded.tokenizer.specials.eos);
      expect(loaded.tokenizer.decode(a).trim()).toBe('a cat.');
    });

    it('forward equals an independent reference; padding changes nothing', () => {
      const m = loaded.model;
      const batch = batchOf(m, src, [0, 1, 2]);
      const before = tf.memory().numTensors;
      const logits = m.logits(batch, { lora: false });
      const lps = m.sequenceLogProbs(batch, { lora: false }).dataSync();
      const all = logits.arraySync();
      for (let b = 0; b < 3; b++) {
        const ids = [...batch.promptIds[b], ...batch.answerIds[b]];
        const one = tf.slice(batch.pixels!, [b, 0, 0, 0], [1, -1, -1, -1]);
        const ref = naiveLogits(m, one, ids, false);
        expect(maxAbs(all[b].slice(0, ids.length).flat(), ref.flat())).toBeLessThan(1e-4);
        // The summed answer log-prob read from the reference's own log-softmax.
        const refLp = tf.tidy(() => tf.logSoftmax(tf.tensor2d(ref), -1).arraySync());
        const start = ids.length - batch.answerIds[b].length;
        const want = batch.answerIds[b].reduce((s, tok, j) => s + refLp[start + j - 1][tok], 0);
        expect(Math.abs(lps[b] - want)).toBeLessThan(1e-3);
        one.dispose();
      }
      // No pixels: the placeholder run is dropped, the same as a prompt written without it.
      const p = batch.promptIds[0];
      const s = p.indexOf(m.extras.imageTokenId);
      const without = [...p.slice(0, s), ...p.slice(s + folder.imageSeqLen)];
      const noImage = tf.tidy(() => m.sequenceLogProbs({ pixels: null, promptIds: [p], answerIds: [batch.answerIds[0]] }).dataSync()[0]);
      const textOnly = tf.tidy(() => m.sequenceLogProbs({ pixels: null, promptIds: [without], answerIds: [batch.answerIds[0]] }).dataSync()[0]);
      expect(noImage).toBe(textOnly);
      expect(Math.abs(noImage - lps[0])).toBeGreaterThan(1e-4);
      tf.dispose([logits, batch.pixels!]);
      expect(tf.memory().numTensors).toBe(before);
    });

    it('backward through LoRA; recomputation gives the same gradients; finite differences on adapters', () => {
      const m = loaded.model;
      m.addLora(LORA, new Rng(5));
      perturbB(loaded, 6);
      const batch = batchOf(m, src, [0, 3]);
      const vars = m.trainableVariables();
      const loss = () => tf.neg(tf.sum(m.sequenceLogProbs(batch))) as tf.Scalar;
      expect(m.recompute).toBe(true); // loadHfModel's default plan recomputes
      m.recompute = false;
      const g1 = tf.variableGrads(loss, vars);
      m.recompute = true;
      const before = tf.memory().numTensors;
      const g2 = tf.variableGrads(loss, vars);
      expect(Math.abs(g1.value.dataSync()[0] - g2.value.dataSync()[0])).toBeLessThan(1e-5);
      let norm = 0;
      for (const v of vars) {
        const a = Array.from(g1.grads[v.name].dataSync());
        const b = Array.from(g2.grads[v.name].dataSync());
        expect(a.every(Number.isFinite)).toBe(true);
        expect(maxAbs(a, b)).toBeLessThan(1e-5);
        norm += a.reduce((s, x) => s + x * x, 0);
      }
      expect(norm).toBeGreaterThan(0);
      tf.dispose([g2.value, ...Object.values(g2.grads)]);
      expect(tf.memory().numTensors).toBe(before);
      // Finite differences on adapters of the first block, through the plain and the recomputed path.
      const first = [...m.lora!.adapters.values()][0];
      for (const [recompute, v, seed] of [[false, first.a, 21], [true, first.b, 22], [true, first.a, 23]] as const) {
        m.recompute = recompute;
        const { analytic, numeric } = directionalCheck(loss, v, 3e-3, seed);
        expect(Math.abs(analytic)).toBeGreaterThan(1e-3);
        expect(Math.abs(analytic - numeric)).toBeLessThan(5e-3 * Math.max(1, Math.abs(analytic)));
      }
      m.recompute = true;
      tf.dispose([g1.value, ...Object.values(g1.grads), batch.pixels!]);
      m.removeLora();
    });

    it('finite differences through the family path (full fine-tuning, directional)', () => {
      const m = loaded.model;
      const batch = batchOf(m, src, [1]);
      const f = () => tf.neg(tf.sum(m.sequenceLogProbs(batch))) as tf.Scalar;
      for (const name of checks.fdParams) {
        const { analytic, numeric } = directionalCheck(f, m.params.get(name), 3e-3, 17);
        expect(Math.abs(analytic)).toBeGreaterThan(1e-3);
        expect(Math.abs(analytic - numeric)).toBeLessThan(5e-3 * Math.max(1, Math.abs(analytic)));
      }
      batch.pixels!.dispose();
    });

    it('trains a few mDPO steps with the project loop, exports/imports the PEFT adapter and a merged checkpoint', async () => {
      const m = loaded.model;
      m.addLora(LORA, new Rng(9));
      const events: StepEvent[] = [];
      const tensorsAt: number[] = [];
      await trainPreference(m, src, { objective: objectiveConfig('mdpo'), batchSize: 2, gradAccum: 1, maxSteps: 3, learningRate: 5e-2, warmupRatio: 0, seed: 1 }, {
        onStep: (e) => {
          events.push(e);
          tensorsAt.push(tf.memory().numTensors);
        },
      });
      expect(events.length).toBe(3);
      expect(events.every((e) => Number.isFinite(e.metrics.loss))).toBe(true);
      expect(events[0].metrics.loss).toBeCloseTo(3 * Math.log(2), 5); // policy = reference at step 0
      expect(tensorsAt[2]).toBe(tensorsAt[1]);
      const bNorm = [...m.lora!.adapters.values()].reduce((s, ad) => s + tf.tidy(() => tf.sum(tf.abs(ad.b)).dataSync()[0]), 0);
      expect(bNorm).toBeGreaterThan(0);

      // PEFT adapter: config + weights, reloaded onto a fresh copy of the base.
      const adapterDir = join(tmp.dir, 'adapter');
      await exportPeftAdapter(adapterDir, m, { baseModelNameOrPath: 'local/tiny' });
      const cfg = JSON.parse(await readFile(join(adapterDir, ADAPTER_CONFIG), 'utf8'));
      expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, bias: 'none', base_model_name_or_path: 'local/tiny' });
      const re = new RegExp(`^(?:${cfg.target_modules})$`);
      for (const name of m.params.names()) {
        const mod = name.replace(/\.(weight|bias)$/, '');
        const isLmLinear = /layers\.\d+\.(self_attn|mlp)\.(q|k|v|o|gate|up|down)_proj$/.test(mod) && mod.startsWith(m.extras.textPrefix);
        expect(re.test(mod)).toBe(isLmLinear);
      }
      const fresh = await loadHfModel(folder.dir, { skipMemoryCheck: true });
      await importPeftAdapter(adapterDir, fresh.model);
      for (const [path, ad] of m.lora!.adapters) {
        const other = fresh.model.lora!.adapters.get(path)!;
        expect(Array.from(other.a.dataSync())).toEqual(Array.from(ad.a.dataSync()));
        expect(Array.from(other.b.dataSync())).toEqual(Array.from(ad.b.dataSync()));
      }
      const batch = batchOf(m, src, [0, 1]);
      const want = m.logits(batch);
      const got = fresh.model.logits(batch);
      expect(maxAbs(want.dataSync(), got.dataSync())).toBe(0);

      // Merged: reloads as a plain HF folder; logits equal the adapter-on model's.
      const mergedDir = join(tmp.dir, 'merged');
      await exportMerged(mergedDir, m, { maxShardBytes: 40_000 });
      const merged = await loadHfModel(mergedDir, { skipMemoryCheck: true });
      expect(merged.model.lora).toBeNull();
      const mergedLogits = merged.model.logits(batch);
      expect(maxAbs(want.dataSync(), mergedLogits.dataSync())).toBeLessThan(1e-5);
      const base = m.logits(batch, { lora: false });
      expect(maxAbs(base.dataSync(), mergedLogits.dataSync())).toBeGreaterThan(1e-3);
      tf.dispose([want, got, mergedLogits, base, batch.pixels!]);
      fresh.model.dispose();
      merged.model.dispose();
      m.removeLora();
    });
  });
}
