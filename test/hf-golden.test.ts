/**
 * Numerics equal to Hugging Face (issue 14): for every supported family, the app against the
 * goldens transformers + PEFT computed (test/fixtures/hf-golden, made by
 * python/golden/make_fixtures.py), and transformers + PEFT reading what the app exports.
 *
 * Ours vs theirs: chat template text and ids exact; pixels to 1e-5 (the fixture image is the
 * model's size, so neither PIL nor sharp resamples; a resampled image stays within sharp's
 * measured distance of PIL); logits and log-probs to 1e-4 from the same
 * pixel_values; the mDPO loss, LoRA gradients (1e-4 relative) and the adapter after one AdamW
 * step (1e-5) through the app's own training loop. Theirs reading ours (needs the project's
 * Python): our exported adapter under PeftModel.from_pretrained and our merged checkpoint under
 * AutoModelForImageTextToText.from_pretrained give our logits to 1e-4, without warnings.
 */
import * as tf from '@tensorflow/tfjs-core';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend';
import { exportMerged, exportPeftAdapter, importPeftAdapter } from '../src/core/hf/adapter';
import type { LoadedHfModel } from '../src/core/hf/load';
import { loadHfModel } from '../src/core/hf/load';
import type { HfBatch } from '../src/core/hf/model';
import { tempDir } from '../src/core/hf/testing/helpers';
import { preferenceLoss } from '../src/core/objective/loss';
import { objectiveConfig } from '../src/core/objective/variants';
import { trainPreference } from '../src/core/train/loop';
import type { Family, Golden } from './hf-golden-support';
import { FAMILIES, GOLDEN_ROOT, goldenLoopConfig, goldenPairSource, hwcFromPixelValues, hwcNormalised, maxAbsDiff, readGolden, readSafetensors, relDiff, runPython, tensor } from './hf-golden-support';
import { PYTHON_SKIP_REASON, describeWithPython } from './python-env';

/** Worst deviations per family and quantity, printed at the end (the README's table). */
const worst: Record<string, Record<string, number>> = {};
function record(family: Family, what: string, value: number): number {
  worst[family] ??= {};
  worst[family][what] = Math.max(worst[family][what] ?? 0, value);
  return value;
}

function userMessages(question: string) {
  return [{ role: 'user' as const, content: [{ type: 'image' as const }, { type: 'text' as const, text: question }] }];
}

/** The golden image as the model's normalised [1, S, S, 3] input (the same values HF used). */
function pixelsOf(g: Golden, name: 'pixel_values' | 'pixel_values_neg'): tf.Tensor4D {
  const t = tensor(g, name);
  const S = t.shape[t.shape.length - 1];
  return tf.tensor4d(hwcNormalised(t), [1, S, S, 3]);
}

/** The A/B gradient of `path` (our legacy module path) in the golden, by transformers' in-memory name. */
function goldenKey(loaded: LoadedHfModel, path: string, which: 'A' | 'B', prefix: 'grad' | 'step'): string {
  const ex = loaded.model.extras;
  return `${prefix}.${ex.textPrefixNew}${path.slice(ex.textPrefix.length)}.lora_${which}.weight`;
}

beforeAll(async () => {
  await initBackend('cpu');
});

afterAll(() => {
  // The table of "what was verified where" (src/core/hf/README.md) is made from these lines.
  for (const [family, q] of Object.entries(worst)) console.log(`[hf-golden] ${family} worst: ${JSON.stringify(q)}`);
});

describe.each(FAMILIES)('HF golden %s: ours vs transformers + PEFT', (family) => {
  let g: Golden;
  let loaded: LoadedHfModel;
  let batchOf: (name: 'pixel_values' | 'pixel_values_neg', answer: number[]) => HfBatch;

  beforeAll(async () => {
    g = await readGolden(family);
    loaded = await loadHfModel(g.modelDir, { skipMemoryCheck: true, plan: { recompute: false } });
    loaded.model.recompute = false;
    batchOf = (name, answer) => ({ pixels: pixelsOf(g, name), promptIds: [g.json.prompt_ids], answerIds: [answer] });
  });

  afterAll(() => loaded?.model.dispose());

  it('chat template text, prompt ids (image run included) and answer ids equal the HF processor and tokenizer', () => {
    const { tokenizer, processor } = loaded;
    expect(tokenizer.applyChatTemplate(userMessages(g.json.question), true)).toBe(g.json.prompt_text);
    const ids = processor.promptIds(g.json.question);
    expect(ids).toEqual(g.json.prompt_ids);
    // Where transformers' processor itself made the ids (not OneVision, whose processor always
    // tiles while the app uses the base crop + newline, nor SmolVLM2, whose processor needs
    // torchvision: there the generator expands the placeholder by the processor's rule).
    if (g.json.hf_processor_ids) expect(ids).toEqual(g.json.hf_processor_ids);
    else expect(['onevision', 'smolvlm2']).toContain(family);
    expect(processor.answerIds(g.json.chosen)).toEqual(g.json.chosen_ids);
    expect(processor.answerIds(g.json.rejected)).toEqual(g.json.rejected_ids);
    record(family, 'ids (mismatches)', 0);
  });

  it('pixels: our preprocessing of the fixture image equals the HF image processor to 1e-5', async () => {
    const ours = await loaded.processor.image(join(GOLDEN_ROOT, 'inputs', 'image.png'));
    const { mean, std } = loaded.model.config.image;
    const theirs = hwcFromPixelValues(tensor(g, 'pixel_values'), mean, std);
    expect(record(family, 'pixels', maxAbsDiff(ours, theirs))).toBeLessThan(1e-5);
    const oursNeg = await loaded.processor.image(join(GOLDEN_ROOT, 'inputs', 'image-neg.png'));
    expect(record(family, 'pixels', maxAbsDiff(oursNeg, hwcFromPixelValues(tensor(g, 'pixel_values_neg'), mean, std)))).toBeLessThan(1e-5);
  });

  it('pixels when both resample (48x40 -> 32x32): sharp is within its measured distance of PIL', async () => {
    // Not bit-equal (libvips vs PIL kernels), which is why every numeric comparison here starts
    // from transformers' own pixel_values. The bounds are the measured deviations with margin:
    // a wrong plan (crop, size, two-step resize, normalisation) lands far outside them.
    const ours = await loaded.processor.image(join(GOLDEN_ROOT, 'inputs', 'image-wide.png'));
    const { mean, std } = loaded.model.config.image;
    const theirs = hwcFromPixelValues(tensor(g, 'pixel_values_wide'), mean, std);
    let sum = 0;
    for (let i = 0; i < ours.length; i++) sum += Math.abs(ours[i] - theirs[i]);
    const lanczos = loaded.processor.plan.resample === 'lanczos3';
    expect(record(family, 'pixels resampled (max)', maxAbsDiff(ours, theirs))).toBeLessThan(lanczos ? 0.2 : 0.02);
    expect(record(family, 'pixels resampled (mean)', sum / ours.length)).toBeLessThan(lanczos ? 0.04 : 0.002);
  });

  it('logits of the full sequence and the summed answer log-probs (base) equal transformers to 1e-4', () => {
    const m = loaded.model;
    const batch = batchOf('pixel_values', g.json.chosen_ids);
    const logits = m.logits(batch);
    const want = tensor(g, 'logits');
    expect(logits.shape).toEqual([1, ...want.shape]);
    expect(record(family, 'logits', maxAbsDiff(logits.dataSync(), want.data))).toBeLessThan(1e-4);
    const rows = [batch, batchOf('pixel_values', g.json.rejected_ids), batchOf('pixel_values_neg', g.json.chosen_ids)];
    const got = rows.map((b) => {
      const lp = m.sequenceLogProbs(b);
      const v = lp.dataSync()[0];
      tf.dispose([lp, b.pixels!]);
      return v;
    });
    const base = g.json.logps_base;
    expect(record(family, 'logps', maxAbsDiff(got, [base.chosen, base.rejected, base.imageless]))).toBeLessThan(1e-4);
    logits.dispose();
  });

  it("PEFT's adapter imports; logits, log-probs, the mDPO loss and every LoRA gradient equal PEFT + torch", async () => {
    const m = loaded.model;
    await importPeftAdapter(g.adapterDir, m);
    try {
      const s = g.json.settings;
      expect(m.lora!.config.rank).toBe(s.lora.r);
      expect(m.lora!.scaling).toBe(s.lora.lora_alpha / s.lora.r);
      const b0 = batchOf('pixel_values', g.json.chosen_ids);
      const logits = m.logits(b0, { lora: true });
      expect(record(family, 'logits (LoRA)', maxAbsDiff(logits.dataSync(), tensor(g, 'logits_lora').data))).toBeLessThan(1e-4);
      tf.dispose([logits, b0.pixels!]);
      const rows = [batchOf('pixel_values', g.json.chosen_ids), batchOf('pixel_values', g.json.rejected_ids), batchOf('pixel_values_neg', g.json.chosen_ids)];
      const score = (lora: boolean) => rows.map((b) => m.sequenceLogProbs(b, { lora }));
      const ref = score(false).map((t) => {
        const v = t.dataSync()[0];
        t.dispose();
        return v;
      });
      const r = g.json.logps_ref;
      expect(record(family, 'logps', maxAbsDiff(ref, [r.chosen, r.rejected, r.imageless]))).toBeLessThan(1e-4);
      const objective = objectiveConfig('mdpo', { beta: s.beta });
      let policy: number[] = [];
      const { value, grads } = tf.variableGrads(() => {
        const [pc, pr, pi] = score(true);
        policy = [pc, pr, pi].map((t) => t.dataSync()[0]);
        const { loss } = preferenceLoss(
          { policyChosen: pc, policyRejected: pr, policyImageless: pi, refChosen: tf.tensor1d([ref[0]]), refRejected: tf.tensor1d([ref[1]]), refImageless: tf.tensor1d([ref[2]]) },
          objective,
        );
        return loss as tf.Scalar;
      }, m.trainableVariables());
      const p = g.json.logps_policy;
      expect(record(family, 'logps', maxAbsDiff(policy, [p.chosen, p.rejected, p.imageless]))).toBeLessThan(1e-4);
      expect(record(family, 'loss', Math.abs(value.dataSync()[0] - g.json.loss))).toBeLessThan(1e-5);
      let n = 0;
      for (const [path, ad] of m.lora!.adapters) {
        for (const [which, v] of [['A', ad.a], ['B', ad.b]] as const) {
          const want = tensor(g, goldenKey(loaded, path, which, 'grad'));
          expect(grads[v.name].shape).toEqual(want.shape);
          expect(record(family, 'grads (relative)', relDiff(grads[v.name].dataSync(), want.data)), `${path} lora_${which}`).toBeLessThan(1e-4);
          n++;
        }
      }
      expect(n).toBe(m.config.text.numLayers * 7 * 2);
      tf.dispose([value, ...Object.values(grads)]);
      rows.forEach((b) => b.pixels!.dispose());
    } finally {
      m.removeLora();
    }
  });

  describe('one step of the app loop from the same adapter', () => {
    let dir: { dir: string; cleanup: () => Promise<void> };
    let stepLogits: tf.Tensor3D;

    beforeAll(async () => {
      dir = await tempDir(`golden-${family}`);
      const m = loaded.model;
      await importPeftAdapter(g.adapterDir, m);
      // One pair; m' is the golden's own m' image (the loop asks the source for it).
      const events: number[] = [];
      await trainPreference(m, goldenPairSource(g, m.config.image), goldenLoopConfig(g, objectiveConfig('mdpo', { beta: g.json.settings.beta }), 1), { onStep: (e) => events.push(e.metrics.loss ?? NaN) });
      expect(events).toHaveLength(1);
      record(family, 'loss', Math.abs(events[0] - g.json.loss));
      const b0 = batchOf('pixel_values', g.json.chosen_ids);
      stepLogits = m.logits(b0, { lora: true });
      b0.pixels!.dispose();
    });

    afterAll(async () => {
      stepLogits?.dispose();
      loaded.model.removeLora();
      await dir?.cleanup();
    });

    it('the adapter after one AdamW step (clip 1, betas 0.9/0.98, eps 1e-8, weight decay 0.05) equals torch.optim.AdamW to 1e-5', () => {
      for (const [path, ad] of loaded.model.lora!.adapters) {
        for (const [which, v] of [['A', ad.a], ['B', ad.b]] as const) {
          const want = tensor(g, goldenKey(loaded, path, which, 'step'));
          expect(record(family, 'adapter after 1 step', maxAbsDiff(v.dataSync(), want.data)), `${path} lora_${which}`).toBeLessThan(1e-5);
        }
      }
    });

    describeWithPython(`theirs reading ours${PYTHON_SKIP_REASON}`, () => {
      it('PeftModel.from_pretrained(our adapter) and from_pretrained(our merged folder) give our logits to 1e-4, without warnings', async () => {
        const m = loaded.model;
        const adapter = join(dir.dir, 'adapter');
        const merged = join(dir.dir, 'merged');
        await exportPeftAdapter(adapter, m, { baseModelNameOrPath: g.modelDir });
        await exportMerged(merged, m, { dtype: 'F32' });
        const out = join(dir.dir, 'theirs.safetensors');
        const ids = [...g.json.prompt_ids, ...g.json.chosen_ids];
        const stdout = await runPython('check_ours.py', [
          '--family', family, '--model', g.modelDir, '--adapter', adapter, '--merged', merged,
          '--golden', join(g.dir, 'golden.safetensors'), '--ids', ids.join(','), '--out', out,
        ]);
        // Warnings PEFT's own adapter raises too (library deprecations) are in `control`, not here.
        const report = JSON.parse(stdout.trim().split('\n').pop()!) as { warnings: string[]; control: string[] };
        expect(report.warnings).toEqual([]);
        const theirs = await readSafetensors(out);
        const ours = stepLogits.dataSync();
        expect(record(family, 'PEFT reload logits', maxAbsDiff(ours, theirs.get('logits_peft')!.data))).toBeLessThan(1e-4);
        expect(record(family, 'merged reload logits', maxAbsDiff(ours, theirs.get('logits_merged')!.data))).toBeLessThan(1e-4);
      });
    });
  });
});
