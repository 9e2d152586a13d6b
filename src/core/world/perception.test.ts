import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { BUILTIN_SMALL, withOverrides } from '../model/config';
import { Vlm } from '../model/model';
import { Rng } from '../rng';
import { pixelBatch } from '../train/pixels';
import * as tf from '@tensorflow/tfjs-core';
import { continuationScorer } from './answerers';
import { worldModelConfig, worldTokenizer } from './base';
import { DESCRIBE_PROMPT, describeObjects, parseDescription } from './grammar';
import { COLOR_RGB, COLORS, SHAPES, parseObjectKey, type Color, type Shape } from './objects';
import {
  captionPrefix,
  colorCandidates,
  perceptionRequests,
  perceptionSlots,
  probePerception,
  scorePerception,
  shapeCandidates,
  strictArgmax,
  type ScoreFn,
} from './perception';
import { sceneImage } from './render';
import type { Scene } from './scene';
import { evalScenes } from './splits';

/** A hand-built scene: objects left to right, 8 px boxes on a 32x32 image. */
function scene(id: string, keys: string[]): Scene {
  return {
    id,
    imageSize: 32,
    theme: 'garden',
    background: [40, 40, 40],
    texture: 0,
    textureSeed: 1,
    objects: keys.map((k, i) => {
      const o = parseObjectKey(k);
      return { ...o, x: 1 + 10 * i, y: 10, w: 8, h: 8, rgb: [...COLOR_RGB[o.color]] as [number, number, number] };
    }),
  };
}

/**
 * A hand-written "model": it knows the truth from the scene and reads which object is asked
 * from the prefix (how many objects it already names), then sees orange as red and squares as
 * crosses. Scores: 0 for its choice, -1 for everything else.
 */
const confused: ScoreFn = async (requests) =>
  requests.map((r) => {
    const slot = parseDescription(r.prefix || 'x').objects.length;
    const truth = r.scene.objects[slot];
    const seenColor: Color = truth.color === 'orange' ? 'red' : truth.color;
    const seenShape: Shape = truth.shape === 'square' ? 'cross' : truth.shape;
    const isColorRequest = r.candidates.length === COLORS.length && r.candidates[0] === colorCandidates()[0];
    return isColorRequest ? COLORS.map((c) => (c === seenColor ? 0 : -1)) : SHAPES.map((s) => (s === seenShape ? 0 : -1));
  });

describe('perception probe: slots and candidates', () => {
  it('the prefix is the true caption before the object, in the grammar of describeObjects', () => {
    const objs = ['red circle', 'blue square', 'green cross'].map(parseObjectKey);
    const caption = describeObjects(objs); // "a red circle, a blue square and a green cross."
    expect(captionPrefix(objs, 0)).toBe('');
    expect(captionPrefix(objs, 1)).toBe('a red circle, ');
    expect(captionPrefix(objs, 2)).toBe('a red circle, a blue square and ');
    for (let k = 0; k < 3; k++) expect(caption.startsWith(captionPrefix(objs, k) + colorCandidates()[COLORS.indexOf(objs[k].color)])).toBe(true);
    expect(captionPrefix(objs.slice(0, 2), 1)).toBe('a red circle and ');
    expect(() => captionPrefix(objs, 3)).toThrow(/object index in \[0, 2\], but got 3/);
  });

  it('color candidates carry their own article, so "an" never gives orange away; shapes come with the true color', () => {
    expect(colorCandidates()).toEqual(['a red', 'an orange', 'a yellow', 'a green', 'a blue', 'a purple']);
    expect(shapeCandidates('orange')).toEqual(['an orange circle', 'an orange square', 'an orange triangle', 'an orange cross', 'an orange ring', 'an orange bar']);
  });

  it('asks two questions per present object, every object of every scene', () => {
    const slots = perceptionSlots([scene('a', ['red circle', 'blue ring']), scene('b', ['green bar'])]);
    expect(slots.map((s) => [s.scene.id, s.index, s.prefix])).toEqual([
      ['a', 0, ''],
      ['a', 1, 'a red circle and '],
      ['b', 0, ''],
    ]);
    const requests = perceptionRequests(slots);
    expect(requests).toHaveLength(6);
    expect(requests[3]).toMatchObject({ prompt: DESCRIBE_PROMPT, prefix: 'a red circle and ', candidates: shapeCandidates('blue') });
  });

  it('a tie is not a right answer', () => {
    expect(strictArgmax([0, 2, 1])).toBe(1);
    expect(strictArgmax([2, 2, 1])).toBe(-1);
    expect(strictArgmax([NaN, -1, -3])).toBe(1);
    expect(strictArgmax([])).toBe(-1);
  });
});

describe('perception probe: exact numbers on hand-built scenes', () => {
  // 6 objects: orange ring (color wrong), blue square (shape wrong), red circle (right),
  // orange square (both wrong), green bar and yellow triangle (right).
  const scenes = [scene('s1', ['orange ring', 'blue square', 'red circle']), scene('s2', ['orange square']), scene('s3', ['green bar', 'yellow triangle'])];

  it('color 4/6, shape 4/6, object 3/6, split by objects per scene, with the confusions', async () => {
    const r = await probePerception({ scenes, score: confused, batchSize: 5 });
    expect(r).toMatchObject({ objects: 6, colorCorrect: 4, shapeCorrect: 4, bothCorrect: 3 });
    expect(r.colorAccuracy).toBeCloseTo(4 / 6, 12);
    expect(r.shapeAccuracy).toBeCloseTo(4 / 6, 12);
    expect(r.objectAccuracy).toBeCloseTo(3 / 6, 12);
    expect(r.byObjectCount['1']).toMatchObject({ objects: 1, colorCorrect: 0, shapeCorrect: 0, bothCorrect: 0, objectAccuracy: 0 });
    expect(r.byObjectCount['2']).toMatchObject({ objects: 2, bothCorrect: 2, objectAccuracy: 1 });
    expect(r.byObjectCount['3']).toMatchObject({ objects: 3, colorCorrect: 2, shapeCorrect: 2, bothCorrect: 1 });
    expect(Object.keys(r.byObjectCount)).toEqual(['1', '2', '3']);
    expect(r.colorConfusions).toEqual([{ truth: 'orange', chosen: 'red', count: 2 }]);
    expect(r.shapeConfusions).toEqual([{ truth: 'square', chosen: 'cross', count: 2 }]);
  });

  it('a scorer that cannot decide gets nothing right and no confusions', async () => {
    const flat: ScoreFn = async (requests) => requests.map((q) => q.candidates.map(() => 0));
    const r = await probePerception({ scenes, score: flat });
    expect(r).toMatchObject({ objects: 6, colorCorrect: 0, shapeCorrect: 0, bothCorrect: 0, colorConfusions: [], shapeConfusions: [] });
  });

  it('refuses a scorer that answers the wrong number of rows or candidates, naming the request', async () => {
    const short: ScoreFn = async (requests) => requests.slice(1).map((q) => q.candidates.map(() => 0));
    await expect(probePerception({ scenes, score: short })).rejects.toThrow(/Expected 12 score rows from the scorer, but got 11/);
    const narrow: ScoreFn = async (requests) => requests.map(() => [0, 1]);
    await expect(probePerception({ scenes, score: narrow })).rejects.toThrow(/Expected 6 scores for request 0 \(s1\), but got 2/);
    expect(() => scorePerception(perceptionSlots(scenes), [], [])).toThrow(/Expected scores for 6 objects/);
    await expect(probePerception({ scenes: [], score: flatScore })).rejects.toThrow(/at least one scene/);
  });
});

const flatScore: ScoreFn = async (requests) => requests.map((q) => q.candidates.map(() => 0));

describe('continuationScorer (a real model)', () => {
  it('scores each candidate as logp(prefix + candidate) - logp(prefix) under teacher forcing, in request order', async () => {
    await initBackend('cpu');
    const tokenizer = worldTokenizer();
    const config = worldModelConfig(
      tokenizer,
      withOverrides(BUILTIN_SMALL, {
        vision: { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32 },
        text: { hiddenSize: 16, numLayers: 1, numHeads: 2, numKeyValueHeads: 1, intermediateSize: 32 },
      }),
    );
    const model = Vlm.create(config, new Rng(5));
    try {
      const scenes = evalScenes(2, 3);
      // Mixed candidate counts in one call: the scorer groups them and keeps the order.
      const requests = [
        ...perceptionRequests(perceptionSlots(scenes)).slice(0, 3),
        { scene: scenes[1], prompt: DESCRIBE_PROMPT, prefix: 'a red circle, ', candidates: ['a blue', 'a green ring'] },
      ];
      const got = await continuationScorer(model, tokenizer)(requests);
      expect(got.map((row) => row.length)).toEqual([6, 6, 6, 2]);
      // The reference: whole answers (prefix + candidate) scored by sequenceLogProbs, minus the prefix alone.
      const full = async (scene: Scene, answer: string): Promise<number> => {
        const pixels = pixelBatch(model, [sceneImage(scene)], [32, 32]);
        const ids = tokenizer.encode(answer);
        const t = model.sequenceLogProbs({ pixels, promptIds: [tokenizer.encode(DESCRIBE_PROMPT)], answerIds: [ids.length > 0 ? ids : [tokenizer.specials.eos]] });
        const v = (await t.data())[0];
        tf.dispose([pixels, t]);
        return ids.length > 0 ? v : 0;
      };
      for (const [i, q] of requests.entries()) {
        const base = await full(q.scene, q.prefix);
        for (const [k, c] of q.candidates.entries()) {
          expect(got[i][k]).toBeCloseTo((await full(q.scene, q.prefix + c)) - base, 4);
        }
      }
      await expect(continuationScorer(model, tokenizer)([{ ...requests[0], prefix: 'a pink ' }])).rejects.toThrow(/answer prefix in the tokenizer's words, but got "a pink "/);
    } finally {
      model.dispose();
    }
  });
});
