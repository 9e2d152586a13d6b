/**
 * Per-object perception: can a model name the color and the shape of each object that IS in
 * the image? (issue 20: the world's hallucinations should come from the language prior, not
 * from misperception, so perception itself is measured.)
 *
 * The probe asks the task the model was trained on ("Describe the image.", objects left to
 * right) and teacher-forces the true caption up to the object under test, so an earlier error
 * cannot cascade and the model is never asked to decide how many objects there are:
 *
 *   slot k of "a red circle, a blue square and a green cross."
 *     prefix  = "a red circle, a blue square and "           (the true caption before object k)
 *     color   = argmax over the 6 colors c of  logp("<a|an> c" | image, prompt, prefix)
 *     shape   = argmax over the 6 shapes s of  logp("a green s" | image, prompt, prefix)
 *
 * The color candidates carry their own article ("an orange", "a red"), so the article never
 * gives the color away; the shape is chosen with the true color given, so a color error does
 * not count twice. A slot is right only when the true candidate scores strictly above all
 * five others (a tie is not a right answer). Every present object of every scene is probed,
 * and the report is also split by the number of objects in the scene (1 = single-object
 * scenes, where no other object is in the context).
 *
 * The scorer is a plain async function (a model's log-probs, or a hand-written table in
 * tests), so this file knows nothing about tensors.
 */
import { COLORS, SHAPES, article, type Color, type Shape, type WorldObject } from './objects';
import { DESCRIBE_PROMPT, objectPhrase } from './grammar';
import type { Scene } from './scene';

/** One continuation-scoring request: the scene, the prompt, the answer so far, the candidates. */
export interface ScoreRequest {
  scene: Scene;
  prompt: string;
  /** The answer text before the candidates (teacher-forced); may be empty. */
  prefix: string;
  /** Continuations of the prefix; scores compare them with each other only. */
  candidates: readonly string[];
}

/** Log-scores of every candidate of every request (higher = more likely), in order. */
export type ScoreFn = (requests: readonly ScoreRequest[]) => Promise<number[][]>;

/** One object under test: scene, its index left to right, and the caption before it. */
export interface PerceptionSlot {
  scene: Scene;
  index: number;
  object: WorldObject;
  prefix: string;
}

export interface PerceptionCounts {
  /** Objects probed. */
  objects: number;
  colorCorrect: number;
  shapeCorrect: number;
  /** Color and shape both right. */
  bothCorrect: number;
  colorAccuracy: number;
  shapeAccuracy: number;
  /** Share of objects whose color AND shape the model names right: the headline number. */
  objectAccuracy: number;
}

export interface PerceptionReport extends PerceptionCounts {
  /** The same counts over scenes with 1, 2, 3, 4 objects (only sizes that occur). */
  byObjectCount: Record<string, PerceptionCounts>;
  /** "true -> chosen": how often each wrong color was chosen, most frequent first. */
  colorConfusions: Array<{ truth: Color; chosen: Color; count: number }>;
  shapeConfusions: Array<{ truth: Shape; chosen: Shape; count: number }>;
}

/** The caption text before object `index` of a caption of `objects` (describeObjects' grammar). */
export function captionPrefix(objects: readonly WorldObject[], index: number): string {
  if (!Number.isInteger(index) || index < 0 || index >= objects.length) {
    throw new Error(`Expected an object index in [0, ${objects.length - 1}], but got ${index}`);
  }
  if (index === 0) return '';
  const said = objects.slice(0, index).map(objectPhrase).join(', ');
  return `${said}${index === objects.length - 1 ? ' and ' : ', '}`;
}

/** Every present object of every scene, left to right. */
export function perceptionSlots(scenes: readonly Scene[]): PerceptionSlot[] {
  return scenes.flatMap((scene) =>
    scene.objects.map((o, index) => ({ scene, index, object: { color: o.color, shape: o.shape }, prefix: captionPrefix(scene.objects, index) })),
  );
}

/** "a red", "an orange", ...: the color candidates, in COLORS order. */
export function colorCandidates(): string[] {
  return COLORS.map((c) => `${article(c)} ${c}`);
}

/** "a green circle", ...: the shape candidates for a known color, in SHAPES order. */
export function shapeCandidates(color: Color): string[] {
  return SHAPES.map((shape) => objectPhrase({ color, shape }));
}

/** Index of the strictly highest score, or -1 when the highest is shared (or not finite). */
export function strictArgmax(scores: readonly number[]): number {
  let best = -1;
  let shared = false;
  scores.forEach((s, i) => {
    if (!Number.isFinite(s)) return;
    if (best < 0 || s > scores[best]) [best, shared] = [i, false];
    else if (s === scores[best]) shared = true;
  });
  return shared ? -1 : best;
}

function counts(objects: number, color: number, shape: number, both: number): PerceptionCounts {
  const rate = (n: number): number => (objects === 0 ? NaN : n / objects);
  return { objects, colorCorrect: color, shapeCorrect: shape, bothCorrect: both, colorAccuracy: rate(color), shapeAccuracy: rate(shape), objectAccuracy: rate(both) };
}

/**
 * The report from the candidates' scores: colorScores[i] over colorCandidates(), shapeScores[i]
 * over shapeCandidates(true color of slot i). Pure; the tests pin it by hand.
 */
export function scorePerception(slots: readonly PerceptionSlot[], colorScores: readonly number[][], shapeScores: readonly number[][]): PerceptionReport {
  if (colorScores.length !== slots.length || shapeScores.length !== slots.length) {
    throw new Error(`Expected scores for ${slots.length} objects, but got ${colorScores.length} color and ${shapeScores.length} shape score rows`);
  }
  const groups = new Map<string, [number, number, number, number]>();
  const colorMiss = new Map<string, number>();
  const shapeMiss = new Map<string, number>();
  let [c, s, b] = [0, 0, 0];
  slots.forEach((slot, i) => {
    if (colorScores[i].length !== COLORS.length || shapeScores[i].length !== SHAPES.length) {
      throw new Error(`Expected ${COLORS.length} color and ${SHAPES.length} shape scores for object ${i} (${slot.scene.id}), but got ${colorScores[i].length} and ${shapeScores[i].length}`);
    }
    const ci = strictArgmax(colorScores[i]);
    const si = strictArgmax(shapeScores[i]);
    const colorOk = ci >= 0 && COLORS[ci] === slot.object.color;
    const shapeOk = si >= 0 && SHAPES[si] === slot.object.shape;
    if (!colorOk && ci >= 0) colorMiss.set(`${slot.object.color}>${COLORS[ci]}`, (colorMiss.get(`${slot.object.color}>${COLORS[ci]}`) ?? 0) + 1);
    if (!shapeOk && si >= 0) shapeMiss.set(`${slot.object.shape}>${SHAPES[si]}`, (shapeMiss.get(`${slot.object.shape}>${SHAPES[si]}`) ?? 0) + 1);
    const key = String(slot.scene.objects.length);
    const g = groups.get(key) ?? [0, 0, 0, 0];
    g[0] += 1;
    g[1] += Number(colorOk);
    g[2] += Number(shapeOk);
    g[3] += Number(colorOk && shapeOk);
    groups.set(key, g);
    c += Number(colorOk);
    s += Number(shapeOk);
    b += Number(colorOk && shapeOk);
  });
  const sorted = <T extends string>(m: Map<string, number>) =>
    [...m]
      .map(([k, count]) => ({ truth: k.split('>')[0] as T, chosen: k.split('>')[1] as T, count }))
      .sort((x, y) => y.count - x.count || `${x.truth}${x.chosen}`.localeCompare(`${y.truth}${y.chosen}`));
  return {
    ...counts(slots.length, c, s, b),
    byObjectCount: Object.fromEntries([...groups].sort(([x], [y]) => Number(x) - Number(y)).map(([k, g]) => [k, counts(...g)])),
    colorConfusions: sorted<Color>(colorMiss),
    shapeConfusions: sorted<Shape>(shapeMiss),
  };
}

export interface PerceptionOptions {
  scenes: readonly Scene[];
  score: ScoreFn;
  /** Requests per score() call (default 64). */
  batchSize?: number;
  /** Called after each batch with the requests done so far. */
  onProgress?: (done: number) => void;
}

/** Requests the probe makes: 2 per present object (colors, then shapes given the true color). */
export function perceptionRequests(slots: readonly PerceptionSlot[]): ScoreRequest[] {
  return slots.flatMap((slot) => [
    { scene: slot.scene, prompt: DESCRIBE_PROMPT, prefix: slot.prefix, candidates: colorCandidates() },
    { scene: slot.scene, prompt: DESCRIBE_PROMPT, prefix: slot.prefix, candidates: shapeCandidates(slot.object.color) },
  ]);
}

/** Probes every present object of the scenes with `score` (teacher-forced, see above). */
export async function probePerception(o: PerceptionOptions): Promise<PerceptionReport> {
  if (o.scenes.length === 0) throw new Error('Expected at least one scene to probe, but got none');
  const slots = perceptionSlots(o.scenes);
  const requests = perceptionRequests(slots);
  const batchSize = o.batchSize ?? 64;
  const scores: number[][] = [];
  for (let i = 0; i < requests.length; i += batchSize) {
    const chunk = requests.slice(i, i + batchSize);
    const got = await o.score(chunk);
    if (got.length !== chunk.length) throw new Error(`Expected ${chunk.length} score rows from the scorer, but got ${got.length}`);
    got.forEach((row, k) => {
      if (row.length !== chunk[k].candidates.length) throw new Error(`Expected ${chunk[k].candidates.length} scores for request ${i + k} (${chunk[k].scene.id}), but got ${row.length}`);
    });
    scores.push(...got);
    o.onProgress?.(scores.length);
  }
  return scorePerception(
    slots,
    slots.map((_, i) => scores[2 * i]),
    slots.map((_, i) => scores[2 * i + 1]),
  );
}
