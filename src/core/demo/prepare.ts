/**
 * prepareStudy: load the base, sample + judge pairs (written as an ordinary dataset folder,
 * read back through importDataset + createPreferenceSource, the path user data takes),
 * held-out pairs for image reliance, the evaluation scenes. Reused when the same settings
 * built them before.
 */

import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeBackend, initBackend } from '../backend';
import { importDataset } from '../data';
import type { Vlm } from '../model/model';
import type { WordTokenizer } from '../model/tokenizer';
import { sampler } from '../world/answerers';
import { writeSceneSet } from '../world/dataset';
import { buildPairs } from '../world/pairs';
import { objectStats } from '../world/pope';
import { buildWorldPreferenceDataset } from '../world/preference';
import { evalScenes, sftScenes } from '../world/splits';
import { checkSignal, loadBase, PhaseClock, type HeldOutPair, type StudyContext, type StudyHooks, type StudySettings } from './settings';

const sameSettings = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * Builds (or, when the same settings built it before, reuses) the pair dataset and the
 * held-out data. Workers of the experiment call it after the main process did the work.
 */
export async function prepareStudy(settings: StudySettings, hooks: StudyHooks = {}): Promise<StudyContext> {
  const backend = await initBackend(settings.backend);
  hooks.onLog?.(describeBackend(backend));
  await mkdir(settings.outDir, { recursive: true });
  const datasetDir = path.join(settings.outDir, 'dataset');
  const evalDir = path.join(settings.outDir, 'eval-scenes');
  const heldOutFile = path.join(settings.outDir, 'held-out-pairs.json');
  const sampling = {
    base: path.resolve(settings.baseDir),
    seed: settings.worldSeed,
    scenes: settings.pairScenes,
    samplesPerQuestion: settings.samplesPerQuestion,
    temperature: settings.temperature,
  };
  // popePairs is only stamped when used, so datasets built before the option still match; the
  // held-out pairs (descriptions only) do not depend on it.
  const pairSettings = { ...sampling, ...(settings.popePairs > 0 ? { popePairs: settings.popePairs } : {}) };
  const heldSettings = { ...sampling, relianceScenes: settings.relianceScenes };

  let base: { model: Vlm; tokenizer: WordTokenizer } | null = null;
  const getBase = async () => (base ??= await loadBase(settings.baseDir));

  // 1. Pairs: sample from the base, judge against the ground truth, write the dataset folder.
  const stampFile = path.join(datasetDir, 'demo-settings.json');
  let buildSummary: StudyContext['buildSummary'];
  const stamp = existsSync(stampFile) ? JSON.parse(await readFile(stampFile, 'utf8')) : null;
  if (stamp && sameSettings(stamp.settings, pairSettings)) {
    buildSummary = stamp.summary;
    hooks.onLog?.(`reusing the pair dataset in ${datasetDir}`);
  } else {
    const { model, tokenizer } = await getBase();
    const clock = new PhaseClock('pairs', hooks, settings.pairScenes);
    const built = await buildWorldPreferenceDataset({
      model,
      tokenizer,
      seed: settings.worldSeed,
      scenes: settings.pairScenes,
      samplesPerQuestion: settings.samplesPerQuestion,
      temperature: settings.temperature,
      popePerScene: settings.popePairs,
      dir: datasetDir,
      onProgress: (d, t) => {
        checkSignal(hooks);
        clock.tick(d, t);
      },
    });
    if (built.pairs.length === 0) throw new Error(`The base model gave no usable pairs on ${settings.pairScenes} scenes (every question was a tie).`);
    buildSummary = built.summary;
    clock.end(`${built.summary.kept} pairs from ${built.summary.questions} questions`);
    await writeFile(stampFile, JSON.stringify({ settings: pairSettings, summary: buildSummary }, null, 1) + '\n');
  }
  checkSignal(hooks);

  // 2. Read it back the way user data comes in.
  const importClock = new PhaseClock('import', hooks, 1);
  const imported = await importDataset(datasetDir);
  if (imported.records.length === 0) throw new Error(`Importing ${datasetDir} gave no valid records: ${imported.report.issues.map((i) => i.message).join('; ')}`);
  importClock.end(`${imported.records.length} valid records (${imported.format})`);
  await hooks.onDataset?.({ dir: datasetDir, name: `world pairs (seed ${settings.worldSeed}, ${imported.records.length} pairs)`, import: imported });

  // 3. Held-out scenes, their images (for the report and the store), POPE statistics.
  const scenes = evalScenes(settings.worldSeed, settings.evalScenes);
  if (!existsSync(path.join(evalDir, 'annotations.json'))) await writeSceneSet(evalDir, scenes);
  const stats = objectStats(sftScenes(settings.worldSeed, settings.statsScenes));

  // 4. Held-out pairs for image reliance: sampled from the base on held-out scenes, judged.
  let heldOut: HeldOutPair[];
  const held = existsSync(heldOutFile) ? JSON.parse(await readFile(heldOutFile, 'utf8')) : null;
  if (held && sameSettings(held.settings, heldSettings)) heldOut = held.pairs;
  else {
    const { model, tokenizer } = await getBase();
    const relianceScenes = scenes.slice(0, settings.relianceScenes);
    const clock = new PhaseClock('held-out pairs', hooks, relianceScenes.length);
    const built = await buildPairs({
      scenes: relianceScenes,
      sample: sampler(model, tokenizer, settings.worldSeed + 7919, settings.temperature),
      samplesPerQuestion: settings.samplesPerQuestion,
      seed: settings.worldSeed,
      onProgress: (d, t) => clock.tick(d, t),
    });
    heldOut = built.pairs.map((p) => ({ sceneId: p.scene.id, prompt: p.prompt, chosen: p.chosen }));
    clock.end(`${heldOut.length} held-out pairs`);
    await writeFile(heldOutFile, JSON.stringify({ settings: heldSettings, pairs: heldOut }, null, 1) + '\n');
  }

  const loaded = await getBase();
  const tokenizer = loaded.tokenizer;
  const imageSize = loaded.model.config.vision.imageSize;
  loaded.model.dispose();
  return {
    settings,
    backend,
    tokenizer,
    imageSize,
    datasetDir,
    imported,
    buildSummary,
    evalScenes: scenes,
    evalDir,
    stats,
    heldOut,
    sources: new Map(),
  };
}

