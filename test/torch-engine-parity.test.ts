/**
 * Parity between the two engines (issue 15): on the HF golden checkpoints (test/fixtures/hf-golden),
 * the same pair, the same m' and the same initial adapter (the goldens' PEFT adapter-init), the
 * tfjs engine (src/core/train's loop) and the torch engine (python/mdpo_torch's loop, run by
 * python/tests/golden_loop.py) report the same loss and summed log-probs at every one of 4 fp32
 * steps (1e-4), and end with the same adapters (1e-4). CPU, float32 on both sides.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend';
import { importPeftAdapter } from '../src/core/hf/adapter';
import { loadHfModel } from '../src/core/hf/load';
import { tempDir } from '../src/core/hf/testing/helpers';
import { objectiveConfig } from '../src/core/objective/variants';
import { trainPreference } from '../src/core/train/loop';
import { goldenLoopConfig, goldenPairSource, maxAbsDiff, readGolden, readSafetensors, type Family } from './hf-golden-support';
import { PYTHON, PYTHON_SKIP_REASON, REPO_ROOT, describeWithPython } from './python-env';

const STEPS = 4;
const COMPARED = ['loss', 'loss/dpo', 'loss/conditional', 'loss/anchor', 'logps/chosen', 'logps/rejected', 'logps/imageless_chosen', 'rewards/margins'];
const run = promisify(execFile);

beforeAll(async () => {
  await initBackend('cpu');
});

describeWithPython.each(['llava-qwen2', 'smolvlm'] as Family[])(`tfjs and torch engines, 4 fp32 steps on golden %s${PYTHON_SKIP_REASON}`, (family) => {
  let dir: { dir: string; cleanup: () => Promise<void> };
  afterAll(async () => dir?.cleanup());

  it('agree on every step\'s loss and log-probs and on the adapters to 1e-4', async () => {
    dir = await tempDir(`parity-${family}`);
    const out = join(dir.dir, 'torch');
    const torchRun = run(PYTHON!, [join(REPO_ROOT, 'python', 'tests', 'golden_loop.py'), family, String(STEPS), out], {
      timeout: 300_000,
      env: { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', OMP_NUM_THREADS: '1' },
    });

    const g = await readGolden(family);
    const loaded = await loadHfModel(g.modelDir, { skipMemoryCheck: true, plan: { recompute: false } });
    const m = loaded.model;
    m.recompute = false;
    try {
      await importPeftAdapter(g.adapterDir, m);
      const s = g.json.settings;
      const ours: Record<string, number>[] = [];
      await trainPreference(m, goldenPairSource(g, m.config.image), goldenLoopConfig(g, objectiveConfig('mdpo', { beta: s.beta, delta: s.delta }), STEPS), { onStep: (e) => ours.push(e.metrics) });

      await torchRun;
      const theirs = JSON.parse(await readFile(join(out, 'steps.json'), 'utf8')) as Record<string, number>[];
      expect(ours).toHaveLength(STEPS);
      expect(theirs).toHaveLength(STEPS);
      let worstMetric = 0;
      let worstAdapter = 0;
      for (let k = 0; k < STEPS; k++) {
        for (const name of COMPARED) {
          worstMetric = Math.max(worstMetric, Math.abs(ours[k][name] - theirs[k][name]));
          expect(Math.abs(ours[k][name] - theirs[k][name]), `step ${k + 1} ${name}: tfjs ${ours[k][name]}, torch ${theirs[k][name]}`).toBeLessThan(1e-4);
        }
      }
      expect(Math.abs(ours[0].loss - g.json.loss)).toBeLessThan(1e-4); // and both equal the golden at step 1
      const adapter = await readSafetensors(join(out, 'adapter_model.safetensors'));
      const ex = m.extras;
      let compared = 0;
      for (const [path, ad] of m.lora!.adapters) {
        for (const [which, v] of [['A', ad.a], ['B', ad.b]] as const) {
          const key = `base_model.model.${ex.textPrefixNew}${path.slice(ex.textPrefix.length)}.lora_${which}.weight`;
          const want = adapter.get(key);
          expect(want, key).toBeDefined();
          const d = maxAbsDiff(v.dataSync(), want!.data);
          worstAdapter = Math.max(worstAdapter, d);
          expect(d, `${key} after ${STEPS} steps`).toBeLessThan(1e-4);
          compared++;
        }
      }
      expect(compared).toBe(m.config.text.numLayers * 7 * 2);
      // The measured distances, for the README's "what was verified where".
      console.log(`[torch-parity] ${family}: worst step metric ${worstMetric.toExponential(2)}, worst adapter ${worstAdapter.toExponential(2)}`);
    } finally {
      m.dispose();
    }
  }, 600_000);
});
