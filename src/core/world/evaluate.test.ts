import { describe, expect, it } from 'vitest';
import { evaluateWorld, popeQuestionSet, type AnswerFn } from './evaluate';
import type { ScoreFn } from './perception';
import { themeTypicalShare } from './theme-typical';
import { DESCRIBE_PROMPT, mentionedKeys, parseDescription } from './grammar';
import { objectStats } from './pope';
import { sceneKeys, type Scene } from './scene';
import { sceneCaption } from './sft';
import { evalScenes, sftScenes } from './splits';
import { typicalKeys } from './themes';
import { ALL_OBJECT_KEYS, parseObjectKey } from './objects';
import { describeObjects } from './grammar';

const scenes = evalScenes(11, 30);
const stats = objectStats(sftScenes(11, 300));

/** Answers from the ground truth: a perfect model. */
const oracle: AnswerFn = async (ss, prompts) =>
  ss.map((s, i) => {
    if (prompts[i] === DESCRIBE_PROMPT) return sceneCaption(s);
    const asked = mentionedKeys(parseDescription(prompts[i].replace(/^Is there|in the image\?$/g, '')))[0];
    return sceneKeys(s).includes(asked) ? 'yes' : 'no';
  });

/** A prior-driven model: adds the theme's first absent typical object and always says yes. */
function baitOf(s: Scene): string | undefined {
  return typicalKeys(s.theme).find((k) => !sceneKeys(s).includes(k));
}
const dreamer: AnswerFn = async (ss, prompts) =>
  ss.map((s, i) => {
    if (prompts[i] !== DESCRIBE_PROMPT) return 'yes';
    const extra = baitOf(s);
    return describeObjects([...s.objects, ...(extra ? [parseObjectKey(extra)] : [])]);
  });

describe('evaluateWorld', () => {
  it('gives a perfect model CHAIR 0, Cover 1 and POPE accuracy 1 with yes-ratio 0.5', async () => {
    const r = await evaluateWorld({ scenes, stats, answer: oracle, seed: 1, batchSize: 7 });
    expect(r.scenes).toBe(30);
    expect(r.description).toMatchObject({ chairS: 0, chairI: 0, cover: 1, cog: 0, unparsedShare: 0 });
    for (const setting of ['random', 'popular', 'adversarial'] as const) {
      expect(r.pope[setting]).toMatchObject({ accuracy: 1, precision: 1, recall: 1, f1: 1, yesRatio: 0.5 });
    }
    expect(r.descriptions[0].truth).toEqual(sceneKeys(scenes[0]));
  });

  it('measures a prior-driven model exactly', async () => {
    let last = 0;
    const r = await evaluateWorld({ scenes, stats, answer: dreamer, seed: 1, onProgress: (d) => (last = d) });
    const withBait = scenes.filter((s) => baitOf(s) !== undefined).length;
    const objects = scenes.reduce((n, s) => n + s.objects.length, 0);
    expect(r.description.chairS).toBeCloseTo(withBait / 30);
    expect(r.description.chairI).toBeCloseTo(withBait / (objects + withBait));
    expect(r.description.cover).toBe(1);
    expect(r.themeTypicalHallucinationShare).toBe(1);
    expect(r.pope.adversarial).toMatchObject({ accuracy: 0.5, recall: 1, yesRatio: 1 });
    expect(last).toBe(30 + r.popeAnswers.length);
  });

  it('counts every mention for CHAIR_i: a hallucinated object named twice counts twice', async () => {
    // The dreamer's caption with its bait object said twice: "... a red ring. a red ring."
    const twice: AnswerFn = async (ss, prompts) =>
      ss.map((s, i) => {
        if (prompts[i] !== DESCRIBE_PROMPT) return 'no';
        const extra = baitOf(s);
        return extra ? `${describeObjects([...s.objects, parseObjectKey(extra)])} ${describeObjects([parseObjectKey(extra)])}` : describeObjects(s.objects);
      });
    const r = await evaluateWorld({ scenes, stats, answer: twice, seed: 1 });
    const withBait = scenes.filter((s) => baitOf(s) !== undefined).length;
    const objects = scenes.reduce((n, s) => n + s.objects.length, 0);
    expect(withBait).toBeGreaterThan(0);
    expect(r.description.hallucinatedMentions).toBe(2 * withBait);
    expect(r.description.chairI).toBeCloseTo((2 * withBait) / (objects + 2 * withBait));
    expect(r.description.chairS).toBeCloseTo(withBait / 30);
    expect(r.descriptions.find((d) => d.hallucinated.length > 0)?.hallucinated).toHaveLength(1); // the sample lists it once
    expect(r.themeTypicalHallucinationShare).toBe(1); // 2 of 2 mentions per scene are the theme's bait
  });

  it('theme-typical share counts mentions in both terms: a typical object said twice and an atypical one once is 2/3', async () => {
    const scene = scenes.find((s) => baitOf(s) !== undefined)!;
    const typical = parseObjectKey(baitOf(scene)!);
    const truth = sceneKeys(scene);
    const atypicalKey = ALL_OBJECT_KEYS.find((k) => !truth.includes(k) && !typicalKeys(scene.theme).includes(k))!;
    const answer: AnswerFn = async (ss, prompts) =>
      ss.map((_, i) => (prompts[i] === DESCRIBE_PROMPT ? `${describeObjects([typical, parseObjectKey(atypicalKey), typical])}` : 'no'));
    const r = await evaluateWorld({ scenes: [scene], stats, answer, seed: 1 });
    expect(r.description.hallucinatedMentions).toBe(3);
    expect(r.themeTypicalHallucinationShare).toBeCloseTo(2 / 3);
    expect(r.themeTypical).toMatchObject({ hallucinatedMentions: 3, typicalMentions: 2 });
    expect(r.themeTypical.chance).toBeCloseTo(themeTypicalShare([{ theme: scene.theme, truth, mentioned: [atypicalKey] }]).chance, 12);
  });

  it('without hallucinations the theme-typical share is undefined in the report (0 in the legacy field) and no scorer means no perception', async () => {
    const r = await evaluateWorld({ scenes: scenes.slice(0, 3), stats, answer: oracle, seed: 1 });
    expect(r.themeTypical.share).toBeNaN();
    expect(r.themeTypicalHallucinationShare).toBe(0);
    expect(r.perception).toBeNull();
  });

  it('with a scorer, probes every present object and counts its requests in the progress', async () => {
    // A scorer that always picks red and circle: accuracy = share of red objects, of circles, of red circles.
    const redCircle: ScoreFn = async (requests) => requests.map((q) => q.candidates.map((c) => (c === 'a red' || c.endsWith(' circle') ? 1 : 0)));
    let last = 0;
    let total = 0;
    const probed = scenes.slice(0, 20);
    const r = await evaluateWorld({ scenes, stats, answer: oracle, perception: { scenes: probed, score: redCircle }, seed: 1, batchSize: 16, onProgress: (d, t) => ([last, total] = [d, t]) });
    const all = probed.flatMap((s) => s.objects);
    expect(r.perception).toMatchObject({
      objects: all.length,
      colorCorrect: all.filter((o) => o.color === 'red').length,
      shapeCorrect: all.filter((o) => o.shape === 'circle').length,
      bothCorrect: all.filter((o) => o.color === 'red' && o.shape === 'circle').length,
    });
    expect(total).toBe(30 + r.popeAnswers.length + 2 * all.length);
    expect(last).toBe(total);
  });

  it('asks every model the same POPE questions for a seed', () => {
    expect(popeQuestionSet(scenes, stats, 1)).toEqual(popeQuestionSet(scenes, stats, 1));
    expect(popeQuestionSet(scenes, stats, 1)).not.toEqual(popeQuestionSet(scenes, stats, 2));
  });

  it('refuses an answerer that returns the wrong number of answers', async () => {
    await expect(evaluateWorld({ scenes, stats, answer: async () => [], seed: 1 })).rejects.toThrow('Expected 30 answers');
  });
});
