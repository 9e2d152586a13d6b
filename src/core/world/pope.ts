/**
 * POPE question sets over world scenes, in the three settings of eval/pope.ts:
 * - random: absent objects drawn uniformly from the 36;
 * - popular: the absent objects most frequent in the reference scenes (the SFT set);
 * - adversarial: the absent objects typical of the scene's theme (most typical first), then
 *   those that co-occur most with what is present: exactly the objects a model that learned
 *   the co-occurrence prior is tempted to claim.
 */
import type { Rng } from '../rng';
import { cooccurrenceCounts, objectFrequencies, rankByCooccurrence, rankByFrequency, samplePopeQuestions, type PopeSetting } from '../eval/pope';
import { ALL_OBJECT_KEYS, parseObjectKey } from './objects';
import { popeQuestion } from './grammar';
import { sceneKeys, type Scene } from './scene';
import { typicalKeys } from './themes';

export interface ObjectStats {
  frequencies: Map<string, number>;
  cooccurrence: Map<string, Map<string, number>>;
}

/** Frequency and co-occurrence of objects over reference scenes (e.g. the SFT scenes). */
export function objectStats(scenes: readonly Scene[]): ObjectStats {
  const lists = scenes.map(sceneKeys);
  return { frequencies: objectFrequencies(lists), cooccurrence: cooccurrenceCounts(lists) };
}

export interface WorldPopeQuestion {
  sceneId: string;
  setting: PopeSetting;
  object: string;
  label: 'yes' | 'no';
  prompt: string;
}

/** Absent candidates for a scene, ordered as the setting asks. */
export function absentCandidates(scene: Scene, setting: PopeSetting, stats: ObjectStats): string[] {
  const present = sceneKeys(scene);
  const absent = ALL_OBJECT_KEYS.filter((k) => !present.includes(k));
  if (setting === 'random') return absent;
  if (setting === 'popular') return rankByFrequency(absent, stats.frequencies);
  const typical = typicalKeys(scene.theme).filter((k) => absent.includes(k));
  const rest = rankByCooccurrence(absent.filter((k) => !typical.includes(k)), present, stats.cooccurrence);
  return [...typical, ...rest];
}

/** Up to perClass present + perClass absent questions for one scene. */
export function scenePopeQuestions(scene: Scene, setting: PopeSetting, stats: ObjectStats, rng: Rng, perClass = 3): WorldPopeQuestion[] {
  return samplePopeQuestions({ present: sceneKeys(scene), absent: absentCandidates(scene, setting, stats), setting, rng, perClass }).map((q) => ({
    sceneId: scene.id,
    setting,
    object: q.object,
    label: q.label,
    prompt: popeQuestion(parseObjectKey(q.object)),
  }));
}
