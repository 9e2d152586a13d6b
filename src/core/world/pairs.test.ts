import { describe, expect, it } from 'vitest';
import { buildPairs, type SampleFn } from './pairs';
import { DESCRIBE_PROMPT, describeObjects } from './grammar';
import { objectStats } from './pope';
import { pairScenes, sftScenes } from './splits';
import { typicalKeys } from './themes';
import { parseObjectKey } from './objects';
import { sceneKeys } from './scene';

const scenes = pairScenes(2, 12);

/** Sample 0 is the truth; sample 1 adds a theme-typical absent object; POPE: yes then no. */
const sampler: SampleFn = async (ss, prompts, count) =>
  ss.map((s, i) => {
    if (prompts[i] !== DESCRIBE_PROMPT) return Array.from({ length: count }, (_, k) => (k % 2 ? 'no' : 'yes'));
    const extra = typicalKeys(s.theme).find((k) => !sceneKeys(s).includes(k))!;
    const truth = describeObjects(s.objects);
    return Array.from({ length: count }, (_, k) => (k === 1 ? describeObjects([...s.objects, parseObjectKey(extra)]) : truth));
  });

describe('buildPairs', () => {
  it('pairs the clean caption (chosen) with the hallucinating one (rejected)', async () => {
    const r = await buildPairs({ scenes, sample: sampler, seed: 1, batchSize: 5 });
    expect(r.summary).toMatchObject({ questions: 12, kept: 12, dropped: 0, chosenHallucinations: 0, rejectedHallucinations: 12 });
    for (const p of r.pairs) {
      expect(p.prompt).toBe(DESCRIBE_PROMPT);
      expect(p.chosen).toBe(describeObjects(p.scene.objects));
      expect(p.rejectedHallucinated).toHaveLength(1);
      expect(p.why).toMatch(/^chosen: 0 hallucinated/);
    }
  });

  it('drops questions whose samples all tie, and records why', async () => {
    const same: SampleFn = async (ss, _p, count) => ss.map((s) => Array.from({ length: count }, () => describeObjects(s.objects)));
    const r = await buildPairs({ scenes, sample: same, seed: 1 });
    expect(r.pairs).toHaveLength(0);
    expect(r.dropped).toHaveLength(12);
    expect(r.dropped[0].why).toMatch(/^all 4 samples tie/);
  });

  it('adds POPE pairs when asked, with a right chosen and a wrong rejected answer', async () => {
    const stats = objectStats(sftScenes(2, 100));
    const r = await buildPairs({ scenes, sample: sampler, seed: 1, popePerScene: 2, stats });
    const pope = r.pairs.filter((p) => p.prompt !== DESCRIBE_PROMPT);
    expect(pope.length).toBeGreaterThan(0);
    for (const p of pope) {
      const asked = p.prompt.replace(/^Is there an? | in the image\?$/g, '');
      expect(p.chosen).toBe(sceneKeys(p.scene).includes(asked) ? 'yes' : 'no');
      expect(p.rejected).not.toBe(p.chosen);
    }
  });

  it('rejects bad options', async () => {
    await expect(buildPairs({ scenes, sample: sampler, seed: 1, samplesPerQuestion: 1 })).rejects.toThrow('Expected samplesPerQuestion');
    await expect(buildPairs({ scenes, sample: sampler, seed: 1, popePerScene: 1 })).rejects.toThrow('Expected stats');
  });
});
