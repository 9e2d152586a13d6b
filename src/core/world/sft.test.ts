import { describe, expect, it } from 'vitest';
import { Rng } from '../rng';
import { mentionedKeys, parseDescription, splitWords } from './grammar';
import { objectKey } from './objects';
import { sceneKeys } from './scene';
import { injectedObject, sceneCaption, sftExamples } from './sft';
import { typicalKeys } from './themes';
import { worldVocabulary } from './vocabulary';

describe('sftExamples', () => {
  const examples = sftExamples({ seed: 5, scenes: 600 });

  it('is reproducible', () => {
    expect(sftExamples({ seed: 5, scenes: 20 })).toEqual(examples.filter((e) => Number(e.scene.id.split('-')[1]) < 20));
  });

  it('gives each scene a caption and balanced POPE questions, with correct answers', () => {
    const captions = examples.filter((e) => e.kind === 'describe');
    expect(captions).toHaveLength(600);
    const pope = examples.filter((e) => e.kind === 'pope');
    expect(pope).toHaveLength(1200);
    expect(pope.filter((e) => e.answer === 'yes')).toHaveLength(600);
    for (const e of pope) {
      const named = mentionedKeys(parseDescription(e.prompt.replace(/^Is there |in the image\?$/g, '')));
      expect(named).toHaveLength(1);
      expect(e.answer).toBe(sceneKeys(e.scene).includes(named[0]) ? 'yes' : 'no');
    }
    for (const e of examples.filter((x) => x.kind === 'count')) expect(e.answer).toBe(['', 'one.', 'two.', 'three.', 'four.'][e.scene.objects.length]);
  });

  it('makes about 15% of captions noisy with one absent, theme-typical object', () => {
    const captions = examples.filter((e) => e.kind === 'describe');
    const noisy = captions.filter((e) => e.injected);
    expect(noisy.length / captions.length).toBeGreaterThan(0.1);
    expect(noisy.length / captions.length).toBeLessThan(0.2);
    for (const e of captions) {
      const truth = sceneKeys(e.scene);
      const said = mentionedKeys(parseDescription(e.answer));
      const extra = said.filter((k) => !truth.includes(k));
      expect(said.filter((k) => truth.includes(k)).sort()).toEqual([...truth].sort());
      if (e.injected) {
        expect(extra).toEqual([e.injected]);
        expect(typicalKeys(e.scene.theme)).toContain(e.injected);
      } else {
        expect(extra).toEqual([]);
        expect(e.answer).toBe(sceneCaption(e.scene));
      }
    }
  });

  it('uses only words of the world vocabulary', () => {
    const vocab = new Set(worldVocabulary());
    for (const e of examples) for (const w of [...splitWords(e.prompt), ...splitWords(e.answer)]) expect(vocab.has(w), w).toBe(true);
  });

  it('honours noiseRate 0 and 1 and rejects bad options', () => {
    expect(sftExamples({ seed: 1, scenes: 50, noiseRate: 0 }).some((e) => e.injected)).toBe(false);
    const all = sftExamples({ seed: 1, scenes: 50, noiseRate: 1 }).filter((e) => e.kind === 'describe');
    // Only a scene holding all five typical objects could escape, and scenes hold at most four.
    expect(all.every((e) => e.injected)).toBe(true);
    expect(() => sftExamples({ seed: 1, scenes: 1, noiseRate: 1.5 })).toThrow('Expected noiseRate in [0, 1], but got 1.5');
    expect(() => sftExamples({ seed: 1, scenes: -1 })).toThrow('Expected scenes');
  });

  it("noisePlacement 'end' names the extra object last, after the true caption, and refuses other placements", () => {
    const captions = sftExamples({ seed: 1, scenes: 40, noiseRate: 1, noisePlacement: 'end' }).filter((e) => e.kind === 'describe');
    for (const e of captions) {
      const said = parseDescription(e.answer).objects.map(objectKey);
      expect(said).toEqual([...sceneKeys(e.scene), e.injected]);
    }
    expect(() => sftExamples({ seed: 1, scenes: 1, noisePlacement: 'middle' as 'end' })).toThrow(`Expected noisePlacement 'random' or 'end', but got "middle"`);
  });

  it('never injects a present object', () => {
    const rng = new Rng(9);
    for (const e of examples.slice(0, 200)) {
      const o = injectedObject(e.scene, rng);
      if (o) expect(sceneKeys(e.scene)).not.toContain(objectKey(o));
    }
  });
});
