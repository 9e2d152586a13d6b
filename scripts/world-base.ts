/**
 * Reproduces the built-in world's base model (resources/base-model/) and measures it.
 *
 *   npx tsx scripts/world-base.ts                      # train with the shipped settings, save, evaluate
 *   npx tsx scripts/world-base.ts --eval-only resources/base-model
 *   npx tsx scripts/world-base.ts --eval-only resources/base-model --pairs-out DIR --pairs-scenes 400
 *   options: --seed 1 --scenes 6000 --epochs 1 --lr 0.003 --batch 64 --out DIR
 *            --snapshot-every N (save DIR/snapshots/step-N while training) --eval-scenes 300
 *            --noise 0.6 --noise-placement end|random (caption noise; src/core/world/README.md "SFT data")
 *            --vision-steps 3000 (patch-label warm-up) --vision-sft freeze|train (SFT leaves the tower as warmed up, or trains it)
 *
 * Seeded end to end; the same options on the same backend give the same weights.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describeBackend, initBackend } from '../src/core/backend';
import { loadCheckpoint, saveCheckpoint } from '../src/core/model/checkpoint';
import type { Vlm } from '../src/core/model/model';
import type { WordTokenizer } from '../src/core/model/tokenizer';
import { continuationScorer, greedyAnswerer } from '../src/core/world/answerers';
import { saveWorldBase, trainWorldBase } from '../src/core/world/base';
import { evaluateWorld, type WorldEvaluation } from '../src/core/world/evaluate';
import { probePerception } from '../src/core/world/perception';
import { objectStats } from '../src/core/world/pope';
import { buildWorldPreferenceDataset } from '../src/core/world/preference';
import { evalScenes, sftScenes, singleObjectScenes } from '../src/core/world/splits';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    scenes: { type: 'string', default: '6000' },
    epochs: { type: 'string', default: '1' },
    lr: { type: 'string', default: '0.003' },
    batch: { type: 'string', default: '64' },
    pope: { type: 'string', default: '2' },
    // The shipped recipe (src/core/world/README.md "Step 4: the shipped base"): a 3000-step patch-label
    // warm-up, SFT with the vision tower frozen, 60% of captions adding a theme-typical absent object last.
    noise: { type: 'string', default: '0.6' },
    'noise-placement': { type: 'string', default: 'end' },
    'vision-steps': { type: 'string', default: '3000' },
    'vision-sft': { type: 'string', default: 'freeze' },
    out: { type: 'string', default: 'resources/base-model' },
    'snapshot-every': { type: 'string', default: '0' },
    'eval-scenes': { type: 'string', default: '300' },
    'eval-only': { type: 'string' },
    'pairs-out': { type: 'string' },
    'pairs-scenes': { type: 'string', default: '400' },
  },
});

const seed = Number(values.seed);
const sceneCount = Number(values.scenes);

function visionSft(v: string): boolean {
  if (v !== 'freeze' && v !== 'train') throw new Error(`--vision-sft: expected freeze or train, got "${v}"`);
  return v === 'freeze';
}

async function measure(model: Vlm, tokenizer: WordTokenizer): Promise<WorldEvaluation> {
  const started = Date.now();
  const r = await evaluateWorld({
    scenes: evalScenes(seed, Number(values['eval-scenes'])),
    stats: objectStats(sftScenes(seed, sceneCount)),
    answer: greedyAnswerer(model, tokenizer),
    perception: { scenes: singleObjectScenes(seed, Number(values['eval-scenes'])), score: continuationScorer(model, tokenizer) },
    seed,
    onProgress: (d, t) => process.stdout.write(`\reval ${d}/${t}`),
  });
  const d = r.description;
  const pct = (x: number): string => (100 * x).toFixed(1);
  console.log(`\neval on ${r.scenes} held-out scenes (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  console.log(`  CHAIR_s ${pct(d.chairS)}  CHAIR_i ${pct(d.chairI)}  Cover ${pct(d.cover)}  Cog ${pct(d.cog)}  unparsed ${pct(d.unparsedShare)}  theme-typical hallucinations ${pct(r.themeTypicalHallucinationShare)}`);
  const t = r.themeTypical;
  console.log(`  theme-typical: ${t.typicalMentions} of ${t.hallucinatedMentions} hallucinated mentions = ${pct(t.share)}% (chance ${pct(t.chance)}%)`);
  const p1 = r.perception;
  if (p1) {
    console.log(`  perception (${p1.objects} held-out single-object scenes): color ${pct(p1.colorAccuracy)}  shape ${pct(p1.shapeAccuracy)}  both ${pct(p1.objectAccuracy)}`);
    console.log(`  confusions: ${[...p1.colorConfusions, ...p1.shapeConfusions].slice(0, 8).map((c) => `${c.truth}->${c.chosen} ${c.count}`).join(', ')}`);
  }
  // Diagnostic: the same probe on every object of the held-out scenes, at its left-to-right slot
  // of the true caption (a present object named out of order counts as wrong here).
  const inScene = await probePerception({ scenes: evalScenes(seed, Number(values['eval-scenes'])), score: continuationScorer(model, tokenizer) });
  const by = Object.entries(inScene.byObjectCount).map(([n, c]) => `${n} obj ${pct(c.objectAccuracy)} (${c.objects})`).join(', ');
  console.log(`  in-scene slots (${inScene.objects} objects): color ${pct(inScene.colorAccuracy)}  shape ${pct(inScene.shapeAccuracy)}  both ${pct(inScene.objectAccuracy)}; by objects per scene: ${by}`);
  for (const [s, p] of Object.entries(r.pope)) {
    console.log(`  POPE ${s.padEnd(11)} acc ${pct(p.accuracy)}  P ${pct(p.precision)}  R ${pct(p.recall)}  F1 ${pct(p.f1)}  yes ${pct(p.yesRatio)}`);
  }
  for (const s of r.descriptions.slice(0, 5)) console.log(`  ${s.sceneId}: "${s.answer}"  truth: ${s.truth.join(', ')}`);
  return r;
}

/** Samples 4 answers per pairs-split scene at temperature 1, judges them, writes the dataset. */
async function pairs(model: Vlm, tokenizer: WordTokenizer, dir: string): Promise<void> {
  const built = await buildWorldPreferenceDataset({
    model,
    tokenizer,
    seed,
    scenes: Number(values['pairs-scenes']),
    dir,
    onProgress: (d, t) => process.stdout.write(`\rpairs ${d}/${t}`),
  });
  const s = built.summary;
  console.log(`\n${s.kept} pairs from ${s.questions} questions (${s.dropped} dropped) in ${built.seconds.toFixed(0)} s; hallucinated objects: chosen ${s.chosenHallucinations}, rejected ${s.rejectedHallucinations}`);
  const reasons = new Map<string, number>();
  for (const d of built.dropped) reasons.set(d.why, (reasons.get(d.why) ?? 0) + 1);
  for (const [why, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`  dropped ${n}x: ${why}`);
  for (const p of built.pairs.slice(0, 3)) console.log(`  chosen "${p.chosen}" | rejected "${p.rejected}" | ${p.why}`);
}

function summary(r: WorldEvaluation): Record<string, unknown> {
  return { scenes: r.scenes, description: r.description, pope: r.pope, themeTypicalHallucinationShare: r.themeTypicalHallucinationShare, themeTypical: r.themeTypical, perception: r.perception };
}

async function main(): Promise<void> {
  console.log(describeBackend(await initBackend()));
  if (values['eval-only']) {
    const { model, tokenizer } = await loadCheckpoint(values['eval-only']);
    if (!tokenizer) throw new Error(`${values['eval-only']} has no tokenizer.json`);
    if (Number(values['eval-scenes']) > 0) {
      const r = await measure(model, tokenizer);
      await writeFile(path.join(values['eval-only'], 'eval.json'), JSON.stringify(summary(r), null, 2) + '\n');
    }
    if (values['pairs-out']) await pairs(model, tokenizer, values['pairs-out']);
    return;
  }
  const snapshotEvery = Number(values['snapshot-every']);
  let model: Vlm | null = null;
  let tokenizer: WordTokenizer | null = null;
  const base = await trainWorldBase({
    seed,
    scenes: sceneCount,
    epochs: Number(values.epochs),
    learningRate: Number(values.lr),
    batchSize: Number(values.batch),
    popePerScene: Number(values.pope),
    noiseRate: Number(values.noise),
    noisePlacement: values['noise-placement'] as 'random' | 'end',
    visionSteps: Number(values['vision-steps']),
    freezeVision: visionSft(values['vision-sft']),
    onVisionStep: (step, loss, accuracy) => {
      if (step % 25 === 0) console.log(`vision warm-up ${step}: loss ${loss.toFixed(3)}, patch accuracy ${(100 * accuracy).toFixed(1)}%`);
    },
    onModel: (m, t) => {
      model = m;
      tokenizer = t;
    },
    hooks: {
      onStep: (e) => {
        if (e.step % 10 === 0 || e.step === e.totalSteps) {
          const eta = e.etaMs === null ? '?' : `${Math.round(e.etaMs / 1000)} s`;
          console.log(`step ${e.step}/${e.totalSteps} loss ${e.metrics.loss.toFixed(4)} lr ${e.learningRate.toExponential(2)} ${e.pairsPerSec.toFixed(1)} ex/s eta ${eta}`);
        }
      },
      beforeStep: async (step) => {
        if (snapshotEvery > 0 && step > 0 && step % snapshotEvery === 0 && model && tokenizer) {
          const dir = path.join(values.out, 'snapshots', `step-${step}`);
          await mkdir(dir, { recursive: true });
          await saveCheckpoint(dir, model, { tokenizer });
        }
      },
    },
  });
  console.log(`trained ${base.result.step} steps in ${base.seconds.toFixed(0)} s`);
  await mkdir(values.out, { recursive: true });
  const r = await measure(base.model, base.tokenizer);
  await saveWorldBase(values.out, base, { command: `npx tsx scripts/world-base.ts ${process.argv.slice(2).join(' ')}`.trim(), eval: summary(r) });
  console.log(`saved ${values.out}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
