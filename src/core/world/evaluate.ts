/**
 * Scores any answerer on held-out world scenes with the exact metrics of src/core/eval:
 * CHAIR_s, CHAIR_i, Cover, Cog on "Describe the image." (CHAIR_i over every mention, as
 * chair.py counts; AMBER's Hal equals CHAIR_s), and POPE in its three settings; plus the two
 * mechanism measures of issue 20: the theme-typical share of hallucinated mentions
 * (theme-typical.ts) and, given a scorer, per-object perception (perception.ts).
 * The answerer is a plain async function (greedy decoding of a model, a fixed table in tests),
 * so this file knows nothing about tensors.
 */
import { Rng } from '../rng';
import { chairMetrics, judgeCase, type ChairReport } from '../eval/chair';
import { POPE_SETTINGS, parsePopeAnswer, popeMetrics, type PopeReport, type PopeSetting } from '../eval/pope';
import { DESCRIBE_PROMPT, mentionedKeys, parseDescription } from './grammar';
import { scenePopeQuestions, type ObjectStats, type WorldPopeQuestion } from './pope';
import { objectKey } from './objects';
import { sceneKeys, type Scene } from './scene';
import { typicalKeys } from './themes';
import { probePerception, type PerceptionReport, type ScoreFn } from './perception';
import { themeTypicalShare, type ThemeTypicalReport } from './theme-typical';

/** Answers prompts[i] about scenes[i], one answer per request, in order. */
export type AnswerFn = (scenes: readonly Scene[], prompts: readonly string[]) => Promise<string[]>;

export interface DescriptionSample {
  sceneId: string;
  answer: string;
  truth: string[];
  hallucinated: string[];
  covered: string[];
  missed: string[];
  unparsed: string[];
}

export interface PopeSample extends WorldPopeQuestion {
  answer: string;
  parsed: 'yes' | 'no';
}

export interface WorldEvaluation {
  scenes: number;
  description: ChairReport;
  pope: Record<PopeSetting, PopeReport>;
  /** Share of hallucinated mentions that are typical of the scene's theme (prior-driven); 0 when none (kept for the run store: see themeTypical). */
  themeTypicalHallucinationShare: number;
  /** The same share with its counts and its chance level (NaN when nothing is hallucinated). */
  themeTypical: ThemeTypicalReport;
  /** Per-object perception (teacher-forced color and shape choice), when a scorer was given. */
  perception: PerceptionReport | null;
  descriptions: DescriptionSample[];
  popeAnswers: PopeSample[];
}

export interface EvaluateOptions {
  scenes: readonly Scene[];
  /** Reference statistics for POPE's popular and adversarial settings (objectStats of SFT scenes). */
  stats: ObjectStats;
  answer: AnswerFn;
  /**
   * The per-object perception probe: a continuation scorer (continuationScorer) and the scenes
   * to probe, normally singleObjectScenes (one object each: no order to get wrong). None = no probe.
   */
  perception?: { scenes: readonly Scene[]; score: ScoreFn };
  /** Seeds the POPE question draw, so every model is asked the same questions. */
  seed: number;
  /** Requests per answer() call (default 64). */
  batchSize?: number;
  /** Called after each batch with (done, total) requests. */
  onProgress?: (done: number, total: number) => void;
}

async function answerAll(
  requests: Array<{ scene: Scene; prompt: string }>,
  answer: AnswerFn,
  batchSize: number,
  progress: (n: number) => void,
): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < requests.length; i += batchSize) {
    const chunk = requests.slice(i, i + batchSize);
    const got = await answer(chunk.map((r) => r.scene), chunk.map((r) => r.prompt));
    if (got.length !== chunk.length) throw new Error(`Expected ${chunk.length} answers from the answerer, but got ${got.length}`);
    out.push(...got);
    progress(chunk.length);
  }
  return out;
}

/** The POPE questions every model is asked on these scenes: a pure function of (scenes, stats, seed). */
export function popeQuestionSet(scenes: readonly Scene[], stats: ObjectStats, seed: number): WorldPopeQuestion[] {
  return POPE_SETTINGS.flatMap((setting) => scenes.flatMap((scene) => scenePopeQuestions(scene, setting, stats, Rng.derive(seed, `pope/${setting}/${scene.id}`))));
}

export async function evaluateWorld(options: EvaluateOptions): Promise<WorldEvaluation> {
  const { scenes, answer } = options;
  if (scenes.length === 0) throw new Error('Expected at least one scene to evaluate, but got none');
  const batchSize = options.batchSize ?? 64;
  const questions = popeQuestionSet(scenes, options.stats, options.seed);
  const byId = new Map(scenes.map((s) => [s.id, s]));
  const probe = options.perception;
  const probeRequests = probe ? 2 * probe.scenes.reduce((n, s) => n + s.objects.length, 0) : 0;
  const total = scenes.length + questions.length + probeRequests;
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    options.onProgress?.(done, total);
  };

  const captions = await answerAll(scenes.map((scene) => ({ scene, prompt: DESCRIBE_PROMPT })), answer, batchSize, progress);
  const parsedAll = captions.map(parseDescription);
  const descriptions: DescriptionSample[] = scenes.map((scene, i) => {
    const parsed = parsedAll[i];
    const truth = sceneKeys(scene);
    const j = judgeCase({ mentioned: mentionedKeys(parsed), truth });
    return { sceneId: scene.id, answer: captions[i], truth, hallucinated: j.hallucinated, covered: j.covered, missed: j.missed, unparsed: parsed.unparsed };
  });
  const description = chairMetrics(
    scenes.map((scene, i) => {
      const truth = sceneKeys(scene);
      // Every mention, repeats included (CHAIR_i counts each one).
      return { mentioned: parsedAll[i].objects.map(objectKey), truth, bait: typicalKeys(scene.theme).filter((k) => !truth.includes(k)), unparsed: descriptions[i].unparsed };
    }),
  );
  // Every mention, like CHAIR_i's hallucinatedMentions (its denominator).
  const themeTypical = themeTypicalShare(scenes.map((scene, i) => ({ theme: scene.theme, truth: descriptions[i].truth, mentioned: parsedAll[i].objects.map(objectKey) })));

  const replies = await answerAll(questions.map((q) => ({ scene: byId.get(q.sceneId)!, prompt: q.prompt })), answer, batchSize, progress);
  const popeAnswers: PopeSample[] = questions.map((q, i) => ({ ...q, answer: replies[i], parsed: parsePopeAnswer(replies[i]) }));
  const pope = Object.fromEntries(
    POPE_SETTINGS.map((setting) => [setting, popeMetrics(popeAnswers.filter((a) => a.setting === setting).map((a) => ({ label: a.label, answer: a.parsed })))]),
  ) as Record<PopeSetting, PopeReport>;

  let probed = 0;
  const perception = probe
    ? await probePerception({ scenes: probe.scenes, score: probe.score, batchSize, onProgress: (n) => {
        progress(n - probed);
        probed = n;
      } })
    : null;

  return {
    scenes: scenes.length,
    description,
    pope,
    themeTypicalHallucinationShare: themeTypical.hallucinatedMentions === 0 ? 0 : themeTypical.share,
    themeTypical,
    perception,
    descriptions,
    popeAnswers,
  };
}
