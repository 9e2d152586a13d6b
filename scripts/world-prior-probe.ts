/**
 * Experiment for issue 20 (src/core/world/README.md, "Redesign plan for the mechanism targets"):
 * how does the base's share of theme-typical hallucinations respond to the caption noise?
 * Continues SFT of a base (default the shipped one, never overwritten) for a few steps on fresh
 * scenes with the given noise, then measures greedy descriptions of held-out scenes (CHAIR_s,
 * hallucinated mentions, theme-typical share vs chance) and per-object perception.
 *
 *   nice -n 19 npx tsx scripts/world-prior-probe.ts --noise 0.5 --placement end --steps 40
 *   options: --base resources/base-model --seed 1 --lr 0.001 --batch 64 --eval-scenes 150 --steps 0 (measure only)
 */
import { parseArgs } from 'node:util';
import { describeBackend, initBackend } from '../src/core/backend';
import { loadCheckpoint } from '../src/core/model/checkpoint';
import { trainSft } from '../src/core/train';
import { continuationScorer, greedyAnswerer } from '../src/core/world/answerers';
import { worldSftSource } from '../src/core/world/base';
import { DESCRIBE_PROMPT, parseDescription } from '../src/core/world/grammar';
import { objectKey } from '../src/core/world/objects';
import { probePerception } from '../src/core/world/perception';
import { sceneKeys } from '../src/core/world/scene';
import { sftExamples } from '../src/core/world/sft';
import { evalScenes, singleObjectScenes } from '../src/core/world/splits';
import { themeTypicalShare } from '../src/core/world/theme-typical';

const { values } = parseArgs({
  options: {
    base: { type: 'string', default: 'resources/base-model' },
    seed: { type: 'string', default: '1' },
    noise: { type: 'string', default: '0.15' },
    placement: { type: 'string', default: 'random' },
    steps: { type: 'string', default: '40' },
    lr: { type: 'string', default: '0.001' },
    batch: { type: 'string', default: '64' },
    'eval-scenes': { type: 'string', default: '150' },
  },
});

async function main(): Promise<void> {
  console.log(describeBackend(await initBackend()));
  const seed = Number(values.seed);
  const steps = Number(values.steps);
  const batch = Number(values.batch);
  const { model, tokenizer } = await loadCheckpoint(values.base);
  if (!tokenizer) throw new Error(`${values.base} has no tokenizer.json`);
  const started = Date.now();
  if (steps > 0) {
    // Fresh scenes of their own split (about 3 examples per scene), never the shipped base's SFT scenes.
    const examples = sftExamples({ seed, scenes: Math.ceil((steps * batch) / 3), split: 'priorprobe', noiseRate: Number(values.noise), noisePlacement: values.placement as 'random' | 'end' });
    const r = await trainSft(model, worldSftSource(examples, tokenizer), {
      seed,
      epochs: 1,
      learningRate: Number(values.lr),
      batchSize: batch,
      gradAccum: 1,
      maxSteps: steps,
      schedule: 'cosine',
      warmupRatio: 0.05,
      weightDecay: 0.01,
      checkpointDir: null,
    });
    console.log(`continued SFT: ${r.step} steps, noise ${values.noise} (${values.placement}), final loss ${r.metrics?.loss.toFixed(3) ?? "?"}, ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  const scenes = evalScenes(seed, Number(values['eval-scenes']));
  const answers = await greedyAnswerer(model, tokenizer)(scenes, scenes.map(() => DESCRIBE_PROMPT));
  const mentioned = answers.map((a) => parseDescription(a).objects.map(objectKey));
  const t = themeTypicalShare(scenes.map((s, i) => ({ theme: s.theme, truth: sceneKeys(s), mentioned: mentioned[i] })));
  const chairS = scenes.filter((s, i) => mentioned[i].some((k) => !sceneKeys(s).includes(k))).length / scenes.length;
  const p = await probePerception({ scenes: singleObjectScenes(seed, scenes.length), score: continuationScorer(model, tokenizer) });
  const pct = (x: number): string => (100 * x).toFixed(1);
  console.log(
    `held-out ${scenes.length}: CHAIR_s ${pct(chairS)}, hallucinated mentions ${t.hallucinatedMentions}, theme-typical ${t.typicalMentions} = ${pct(t.share)}% (chance ${pct(t.chance)}%); ` +
      `perception on ${p.objects} single-object scenes: color ${pct(p.colorAccuracy)} shape ${pct(p.shapeAccuracy)} both ${pct(p.objectAccuracy)}; ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
  );
  for (let i = 0; i < 4; i++) console.log(`  ${scenes[i].id}: "${answers[i]}"  truth: ${sceneKeys(scenes[i]).join(', ')}`);
  model.dispose();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
