/**
 * Evaluation of a finished run, inside the trainer process: the base model with the run's
 * adapters on held-out scenes of the built-in world, scored with the exact metrics of
 * src/core/eval (CHAIR_s, CHAIR_i, Cover, Cog; POPE per setting; AMBER's Hal is CHAIR_s). The descriptions come
 * back as outputs with every mentioned object marked correct or hallucinated.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend, type BackendName } from '../../core/backend';
import { loadAdapter, loadCheckpoint } from '../../core/model/checkpoint';
import { greedyAnswerer } from '../../core/world/answerers';
import { evaluateWorld } from '../../core/world/evaluate';
import { DESCRIBE_PROMPT } from '../../core/world/grammar';
import { objectStats } from '../../core/world/pope';
import { scenePng } from '../../core/world/render';
import { evalScenes, sftScenes } from '../../core/world/splits';
import type { EvaluationRow, HallucinationMark, ParsedObject } from '../../shared/api';
import { baseKind } from './base-kind';
import { runBaseModelDir } from './base-model';
import type { Engine, EvaluationOutput } from './protocol';

/** Spans of "<color> <shape>" mentions in an answer, marked by the judge's verdict. */
export function markAnswer(answer: string, hallucinated: readonly string[]): { objects: ParsedObject[]; marks: HallucinationMark[] } {
  const objects: ParsedObject[] = [];
  const marks: HallucinationMark[] = [];
  const re = /\b(red|orange|yellow|green|blue|purple) (circle|square|triangle|cross|ring|bar)s?\b/gi;
  for (let m = re.exec(answer); m; m = re.exec(answer)) {
    const name = `${m[1]!.toLowerCase()} ${m[2]!.toLowerCase()}`;
    const span = { start: m.index, end: m.index + m[0].length };
    objects.push({ name, ...span });
    marks.push({ object: name, ...span, kind: hallucinated.includes(name) ? 'hallucinated' : 'correct' });
  }
  return { objects, marks };
}

export const evaluateEngine: Engine = async (job, hooks) => {
  if (job.task?.kind !== 'evaluate') throw new Error('evaluateEngine needs an evaluate task');
  const { scenes: count, seed } = job.task;
  const base = await baseKind(job.config.baseModel);
  if (base.kind === 'hf') {
    throw new Error(
      `Run ${job.runId} trains the Hugging Face folder ${job.config.baseModel} (model_type ${base.modelType}); the built-in world evaluation needs the built-in base. ` +
        'Evaluate it on your own probe sets (Inspect) instead.',
    );
  }
  const backend = await initBackend(job.config.backend as BackendName | 'auto');
  hooks.log(`evaluating on ${backend.name}`);
  const { model, tokenizer } = await loadCheckpoint(await runBaseModelDir(job));
  if (!tokenizer) throw new Error('The base model has no tokenizer.json.');
  await loadAdapter(join(job.runDir, 'adapter'), model).catch((error: Error) => {
    throw new Error(`Run ${job.runId} has no adapter to evaluate (has it completed?): ${error.message}`, { cause: error });
  });
  const imageSize = model.config.vision.imageSize;
  const scenes = evalScenes(seed, count, { imageSize });
  const result = await evaluateWorld({
    scenes,
    stats: objectStats(sftScenes(seed, 500, { imageSize })),
    answer: greedyAnswerer(model, tokenizer, { lora: true }),
    seed,
    onProgress: (done, total) => hooks.evalProgress(done, total),
  });

  const d = result.description as unknown as Record<string, number>;
  const rows: EvaluationRow[] = [];
  for (const [metric, key] of [['CHAIR_s', 'chairS'], ['CHAIR_i', 'chairI'], ['Cover', 'cover'], ['Cog', 'cog']] as const) {
    if (typeof d[key] === 'number') rows.push({ metric, setting: '', value: d[key] });
  }
  for (const [setting, report] of Object.entries(result.pope)) {
    for (const [k, v] of Object.entries(report as unknown as Record<string, unknown>)) {
      if (typeof v === 'number' && k !== 'questions') rows.push({ metric: `POPE/${k}`, setting, value: v });
    }
  }
  rows.push({ metric: 'theme_typical_hallucination_share', setting: '', value: result.themeTypicalHallucinationShare });

  const imageDir = join(job.runDir, 'eval-images');
  await mkdir(imageDir, { recursive: true });
  const byId = new Map(scenes.map((s) => [s.id, s]));
  const outputs: EvaluationOutput[] = [];
  for (const sample of result.descriptions) {
    const imagePath = join(imageDir, `${sample.sceneId.replace(/[^\w.-]/g, '_')}.png`);
    await writeFile(imagePath, await scenePng(byId.get(sample.sceneId)!));
    outputs.push({ imagePath, question: DESCRIBE_PROMPT, answer: sample.answer, ...markAnswer(sample.answer, sample.hallucinated) });
  }
  hooks.evaluation(rows, outputs);
  return { step: 0, result: {} };
};
