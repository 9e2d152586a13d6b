import { describe, expect, it } from 'vitest';
import { Rng } from '../rng';
import { absentCandidates, objectStats, scenePopeQuestions } from './pope';
import { generateScenes, sceneKeys, type Scene } from './scene';
import { typicalKeys } from './themes';

const stats = objectStats(generateScenes(1, 'sft', 500));

describe('world POPE', () => {
  const scene: Scene = generateScenes(1, 'eval', 40).find((s) => s.objects.length === 3)!;

  it('ranks theme-typical absent objects first in the adversarial setting', () => {
    const typicalAbsent = typicalKeys(scene.theme).filter((k) => !sceneKeys(scene).includes(k));
    const ranked = absentCandidates(scene, 'adversarial', stats);
    expect(ranked.slice(0, typicalAbsent.length)).toEqual(typicalAbsent);
    expect(ranked).toHaveLength(33);
  });

  it('ranks the most frequent absent objects first in the popular setting', () => {
    const ranked = absentCandidates(scene, 'popular', stats);
    for (let i = 1; i < ranked.length; i++) expect(stats.frequencies.get(ranked[i - 1]) ?? 0).toBeGreaterThanOrEqual(stats.frequencies.get(ranked[i]) ?? 0);
  });

  it('asks 3 present + 3 absent questions with correct labels and prompts', () => {
    for (const setting of ['random', 'popular', 'adversarial'] as const) {
      const qs = scenePopeQuestions(scene, setting, stats, new Rng(2));
      expect(qs).toHaveLength(6);
      for (const q of qs) {
        expect(q.label).toBe(sceneKeys(scene).includes(q.object) ? 'yes' : 'no');
        expect(q.prompt).toMatch(new RegExp(`^Is there an? ${q.object} in the image\\?$`));
        expect(q.sceneId).toBe(scene.id);
      }
    }
  });
});
