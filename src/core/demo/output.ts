/** Results of a study: assembled from the per-arm runs and written as results.json/md + report.html. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DESCRIBE_PROMPT } from '../world/grammar';
import { imagePath } from '../world/dataset';
import { sceneKeys } from '../world/scene';
import type { ArmSpec } from './arms';
import { negativeLabel, usesNegative } from './arms';
import { markAnswer } from './marks';
import { renderReport } from './report';
import { MECHANISM_NOTE, METRICS, RESULTS_FORMAT, parseResults, ratiosLine, resultsTable, summarise, trainedSteps, trainingTable, type ArmResult, type DemoSample, type StudyResults } from './results';
import type { ArmSeedResult, StudyContext } from './study';
import { machineInfo } from './study';

export interface AssembleOptions {
  kind: 'demo' | 'experiment';
  arms: readonly ArmSpec[];
  results: readonly ArmSeedResult[];
  wallSeconds: number;
  command: string | null;
  notes?: string[];
}

/**
 * Report samples: held-out scenes where the DPO and mDPO answers differ come first (that is
 * where the methods disagree), then the rest, in scene order; the first seed's answers.
 */
function pickSamples(ctx: StudyContext, o: AssembleOptions): DemoSample[] {
  const firstSeed = ctx.settings.seeds[0];
  const shown = o.arms.filter((a) => ['base', 'dpo', 'mdpo'].includes(a.name));
  const byArm = new Map(shown.map((a) => [a.name, o.results.find((r) => r.arm === a.name && (a.variant === 'base' || r.seed === firstSeed))]));
  const dpo = byArm.get('dpo');
  const mdpo = byArm.get('mdpo');
  const order = ctx.evalScenes.map((_, i) => i);
  const differs = (i: number) => (dpo && mdpo ? dpo.answers[i] !== mdpo.answers[i] : false);
  order.sort((a, b) => Number(differs(b)) - Number(differs(a)) || a - b);
  return order.slice(0, ctx.settings.samples).map((i) => {
    const scene = ctx.evalScenes[i];
    const truth = sceneKeys(scene);
    const answers: DemoSample['answers'] = {};
    for (const [name, r] of byArm) {
      if (!r) continue;
      const answer = r.answers[i] ?? '';
      answers[name] = { answer, marks: markAnswer(answer, truth).marks };
    }
    return { sceneId: scene.id, imagePath: path.join('eval-scenes', imagePath(scene)), question: DESCRIBE_PROMPT, truth, answers };
  });
}

export function assembleResults(ctx: StudyContext, o: AssembleOptions): StudyResults {
  const s = ctx.settings;
  const arms: ArmResult[] = o.arms.map((arm) => {
    const runs = o.results.filter((r) => r.arm === arm.name).sort((a, b) => a.seed - b.seed);
    return {
      name: arm.name,
      variant: arm.variant,
      negative: usesNegative(arm) ? negativeLabel(arm.negative) : null,
      description: arm.description,
      seeds: runs.map((r) => ({ seed: r.seed, metrics: r.metrics, trainSeconds: r.trainSeconds, evalSeconds: r.evalSeconds, steps: r.steps, final: r.final })),
      summary: summarise(runs.map((r) => r.metrics)),
      curves: runs[0]?.curves ?? {},
    };
  });
  const results = {
    format: RESULTS_FORMAT,
    kind: o.kind,
    createdAt: new Date().toISOString(),
    command: o.command,
    machine: machineInfo(ctx.backend),
    wallSeconds: o.wallSeconds,
    settings: { ...s, baseDir: path.relative(process.cwd(), path.resolve(s.baseDir)) || '.', outDir: path.relative(process.cwd(), path.resolve(s.outDir)) || '.' },
    dataset: {
      dir: path.relative(s.outDir, ctx.datasetDir),
      questions: ctx.buildSummary.questions,
      pairs: ctx.imported.records.length,
      dropped: ctx.buildSummary.dropped,
      chosenHallucinations: ctx.buildSummary.chosenHallucinations,
      rejectedHallucinations: ctx.buildSummary.rejectedHallucinations,
      heldOutPairs: ctx.heldOut.length,
      evalScenes: ctx.evalScenes.length,
    },
    metrics: METRICS.map((d) => ({ key: d.key, label: d.label, better: d.better, percent: d.percent })),
    arms,
    samples: pickSamples(ctx, o),
    notes: o.notes ?? [],
  };
  // NaN -> null exactly as JSON would write it, so the object in memory equals the file.
  return parseResults(JSON.parse(JSON.stringify(results)));
}

export function resultsMarkdown(r: StudyResults): string {
  const seeds = Math.max(...r.arms.map((a) => a.seeds.length));
  const st = r.settings as Record<string, unknown>;
  const lines = [
    `# ${r.kind === 'demo' ? 'Demo' : 'Full study'}: held-out results`,
    '',
    `${r.dataset.pairs} pairs (${r.dataset.questions} questions sampled from the base${Number(st.popePairs) > 0 ? `: a description and ${st.popePairs} POPE questions per scene` : ''}, ${r.dataset.dropped} ties dropped; ` +
      `hallucinated objects in chosen ${r.dataset.chosenHallucinations}, in rejected ${r.dataset.rejectedHallucinations}); ` +
      `${r.dataset.evalScenes} held-out scenes, ${r.dataset.heldOutPairs} held-out pairs for image reliance. ` +
      `Training: ${trainedSteps(r)}, lr ${st.learningRate}, batch ${st.batchSize}x${st.gradAccum}, beta ${st.beta}, LoRA r${st.loraRank}/alpha ${st.loraAlpha}.`,
    seeds > 1 ? `Cells: mean ± sample std over ${seeds} seeds (${(st.seeds as number[]).join(', ')}). Rates in %, image reliance in nats.` : 'One seed. Rates in %, image reliance in nats.',
    '',
    resultsTable(r.arms),
    ratiosLine(r.arms),
    MECHANISM_NOTE,
    '',
    trainingTable(r.arms),
    `Machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.backend}. Wall time ${(r.wallSeconds / 60).toFixed(1)} min.` + (r.command ? ` Command: \`${r.command}\`` : ''),
    '',
    ...r.notes.map((n) => `> ${n}\n`),
  ];
  return lines.join('\n');
}

/** results.json, results.md and the self-contained report.html in `outDir`. */
export async function writeResults(outDir: string, r: StudyResults): Promise<{ json: string; md: string; html: string }> {
  const images = new Map<string, string>();
  for (const s of r.samples) {
    const png = await readFile(path.join(outDir, s.imagePath));
    images.set(s.sceneId, `data:image/png;base64,${png.toString('base64')}`);
  }
  const files = { json: path.join(outDir, 'results.json'), md: path.join(outDir, 'results.md'), html: path.join(outDir, 'report.html') };
  await writeFile(files.json, JSON.stringify(r, null, 1) + '\n');
  await writeFile(files.md, resultsMarkdown(r));
  await writeFile(files.html, renderReport(r, images));
  return files;
}
