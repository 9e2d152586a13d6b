/**
 * Child process of the HF comparison (bench/torch-compare.ts): the tfjs engine's training loop
 * (src/core/train's trainPreference, unchanged) on the same HF checkpoint, pairs and images as
 * the torch side. Run as its own process so its peak RSS is its own.
 *
 *   node --import tsx bench/tfjs-hf-run.ts <exchange dir> <dpo|mdpo>
 * Reads job.json (the torch TrainJob: config, records, the rendered images folder); writes
 * tfjs-<variant>.json with per-step wall/CPU ms, losses, log-probs and peak RSS.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend } from '../src/core/backend';
import type { PreferenceRecord } from '../src/core/data/types';
import { loadHfModel } from '../src/core/hf/load';
import { preferenceLora } from '../src/core/model/lora';
import { Rng } from '../src/core/rng';
import { loopConfigFromShared } from '../src/core/train/from-shared';
import { trainPreference } from '../src/core/train/loop';
import type { PreferenceSource } from '../src/core/train/types';
import type { TrainConfig } from '../src/shared/schemas';
import { LORA_TARGETS_ALL } from '../src/core/model/lora';

interface Manifest {
  pairs: { index: number; id: string; image?: string; negatives?: string[]; skipped?: string }[];
}

async function main(): Promise<void> {
  const [exchange, variant] = process.argv.slice(2);
  if (!exchange || (variant !== 'dpo' && variant !== 'mdpo')) throw new Error('usage: tfjs-hf-run.ts <exchange dir> <dpo|mdpo>');
  const spec = JSON.parse(await readFile(join(exchange, 'job.json'), 'utf8')) as { steps: number; jobs: Record<string, { config: TrainConfig; dataset: { recordsFile: string } }> };
  const job = spec.jobs[variant]!;
  const config = { ...job.config, maxSteps: spec.steps };
  const backend = await initBackend('auto');
  const { model, processor } = await loadHfModel(config.baseModel, { skipMemoryCheck: true, plan: { recompute: false } });
  model.recompute = false;
  const records = JSON.parse(await readFile(job.dataset.recordsFile, 'utf8')) as PreferenceRecord[];
  const imagesDir = config.torch.negativesDir!;
  const manifest = JSON.parse(await readFile(join(imagesDir, 'manifest.json'), 'utf8')) as Manifest;
  // The same pixels the torch engine reads (the app's rendering of m and m'), through our HF image processor.
  const images = await Promise.all(manifest.pairs.map((p) => processor.image(join(imagesDir, p.image!))));
  const negatives = await Promise.all(manifest.pairs.map((p) => (p.negatives?.length ? processor.image(join(imagesDir, p.negatives[0]!)) : null)));
  const source: PreferenceSource = {
    size: records.length,
    imageShape: processor.imageShape,
    example: (i) => ({
      id: records[i]!.id,
      image: images[i]!,
      promptIds: processor.promptIds(records[i]!.prompt),
      chosenIds: processor.answerIds(records[i]!.chosen),
      rejectedIds: processor.answerIds(records[i]!.rejected),
    }),
    negative: (i) => negatives[i] ?? images[i]!,
  };
  const lora = preferenceLora({ rank: config.lora.rank, alpha: config.lora.alpha, dropout: config.lora.dropout, targetModules: config.lora.targets.length ? config.lora.targets : [...LORA_TARGETS_ALL] });
  model.addLora(lora.config, Rng.derive(config.seed, 'lora/init'));
  const loop = loopConfigFromShared(config, { checkpointDir: null, defaultLearningRate: 1e-5 });
  const stepMs: number[] = [];
  const cpuMs: number[] = [];
  const losses: number[] = [];
  const logps: { chosen: number | null; rejected: number | null; imageless: number | null }[] = [];
  let t0 = 0;
  let c0 = process.cpuUsage();
  await trainPreference(model, source, loop, {
    beforeStep: () => {
      t0 = performance.now();
      c0 = process.cpuUsage();
    },
    onStep: (e) => {
      const c = process.cpuUsage(c0);
      stepMs.push(performance.now() - t0);
      cpuMs.push((c.user + c.system) / 1000);
      const m = e.metrics;
      losses.push(m.loss ?? NaN);
      logps.push({ chosen: m['logps/chosen'] ?? null, rejected: m['logps/rejected'] ?? null, imageless: m['logps/imageless_chosen'] ?? null });
    },
  });
  const out = { impl: 'tfjs', variant, stepMs, cpuMs, losses, logps, peakRssBytes: process.resourceUsage().maxRSS * 1024, backend: `${backend.name} (${backend.device})` };
  await writeFile(join(exchange, `tfjs-${variant}.json`), JSON.stringify(out));
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
