/**
 * Supervised fine-tuning examples for the base model (docs/world.md): captions, POPE questions
 * and counts over seeded scenes. A share of captions is noisy on purpose: it names one extra
 * object that is absent but typical of the scene's theme, as real caption data does. This is
 * the source of the base model's hallucinations, and why they follow the language prior.
 */
import { Rng } from '../rng';
import { ALL_OBJECTS, objectKey, type WorldObject } from './objects';
import { COUNT_PROMPT, DESCRIBE_PROMPT, countAnswer, describeObjects, popeQuestion, type QuestionKind } from './grammar';
import { sceneAt, sceneKeys, weightedIndex, type Scene, type SceneOptions } from './scene';
import { themeByName } from './themes';

export interface WorldExample {
  scene: Scene;
  kind: QuestionKind;
  prompt: string;
  answer: string;
  /** Present on noisy captions: the absent object the caption names anyway. */
  injected?: string;
}

export interface SftOptions {
  seed: number;
  /** Scenes to draw from the "sft" split. */
  scenes: number;
  /** Share of captions that name an extra absent, theme-typical object (default 0.15). */
  noiseRate?: number;
  /** POPE questions per scene, half present and half absent objects (default 2). */
  popePerScene?: number;
  /** Chance per scene of a counting question (default 0.25). */
  countRate?: number;
  sceneOptions?: SceneOptions;
  /** Split name; change it only to keep several SFT sets apart (default "sft"). */
  split?: string;
  /**
   * Where a noisy caption names its extra object: 'random' (anywhere, the default and the
   * shipped base's data) or 'end' (always last: one decision point where the prior can win a
   * greedy argmax; see README "Redesign plan for the mechanism targets").
   */
  noisePlacement?: 'random' | 'end';
}

function rate(name: string, value: number): number {
  if (!(value >= 0 && value <= 1)) throw new Error(`Expected ${name} in [0, 1], but got ${value}`);
  return value;
}

/** The absent object a noisy caption names: typical of the theme, weighted like the prior. */
export function injectedObject(scene: Scene, rng: Rng): WorldObject | undefined {
  const theme = themeByName(scene.theme);
  const present = new Set(sceneKeys(scene));
  const weights = theme.objects.map((o, i) => (present.has(objectKey(o)) ? 0 : theme.objectWeights[i]));
  if (weights.every((w) => w === 0)) return undefined;
  return theme.objects[weightedIndex(rng, weights)];
}

/** The caption of a scene, with `extra` slipped in at a random place (noisy captions), or last with placement 'end'. */
export function sceneCaption(scene: Scene, extra?: WorldObject, rng?: Rng, placement: 'random' | 'end' = 'random'): string {
  const objects: WorldObject[] = scene.objects.map(({ color, shape }) => ({ color, shape }));
  if (extra && placement === 'end') objects.push(extra);
  else if (extra) {
    if (!rng) throw new Error('Expected an rng to place the extra object, but got none');
    objects.splice(rng.int(objects.length + 1), 0, extra);
  }
  return describeObjects(objects);
}

/** Balanced POPE examples for one scene: present objects answer yes, uniform absent ones no. */
export function popeExamples(scene: Scene, count: number, rng: Rng): WorldExample[] {
  const present = sceneKeys(scene);
  const absent = ALL_OBJECTS.filter((o) => !present.includes(objectKey(o)));
  const out: WorldExample[] = [];
  for (let i = 0; i < count; i++) {
    const yes = i % 2 === 0;
    const object = yes ? rng.pick(scene.objects) : rng.pick(absent);
    out.push({ scene, kind: 'pope', prompt: popeQuestion(object), answer: yes ? 'yes' : 'no' });
  }
  return out;
}

/**
 * All SFT examples, scene by scene: one caption (noisy with probability noiseRate), then
 * POPE questions, then sometimes a count. Deterministic in the options.
 */
export function sftExamples(options: SftOptions): WorldExample[] {
  const noiseRate = rate('noiseRate', options.noiseRate ?? 0.15);
  const countRate = rate('countRate', options.countRate ?? 0.25);
  const popePerScene = options.popePerScene ?? 2;
  if (!Number.isInteger(popePerScene) || popePerScene < 0) {
    throw new Error(`Expected popePerScene to be a non-negative integer, but got ${popePerScene}`);
  }
  if (!Number.isInteger(options.scenes) || options.scenes < 0) {
    throw new Error(`Expected scenes to be a non-negative integer, but got ${options.scenes}`);
  }
  const split = options.split ?? 'sft';
  const placement = options.noisePlacement ?? 'random';
  if (placement !== 'random' && placement !== 'end') throw new Error(`Expected noisePlacement 'random' or 'end', but got "${String(placement)}"`);
  const out: WorldExample[] = [];
  for (let i = 0; i < options.scenes; i++) {
    const scene = sceneAt(options.seed, split, i, options.sceneOptions);
    const rng = Rng.derive(options.seed, `world/${split}-examples/${i}`);
    const extra = rng.next() < noiseRate ? injectedObject(scene, rng) : undefined;
    const caption: WorldExample = { scene, kind: 'describe', prompt: DESCRIBE_PROMPT, answer: sceneCaption(scene, extra, rng, placement) };
    if (extra) caption.injected = objectKey(extra);
    out.push(caption, ...popeExamples(scene, popePerScene, rng));
    if (rng.next() < countRate) out.push({ scene, kind: 'count', prompt: COUNT_PROMPT, answer: countAnswer(scene.objects.length) });
  }
  return out;
}
