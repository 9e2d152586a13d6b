/**
 * The study's `popePairs` option (issue 20, `npm run experiment -- --pope-pairs N`): POPE
 * questions are sampled and judged beside the descriptions, the dataset's build report says so,
 * and the pairs are rebuilt (not reused) when the option changes.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../src/core/backend';
import { QUICK_SETTINGS, prepareStudy, type StudySettings } from '../src/core/demo';
import { saveCheckpoint } from '../src/core/model/checkpoint';
import { withOverrides } from '../src/core/model/config';
import { Vlm } from '../src/core/model/model';
import { Rng } from '../src/core/rng';
import { worldModelConfig, worldTokenizer } from '../src/core/world/base';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'study-pope-'));
  await initBackend('wasm');
  const tokenizer = worldTokenizer();
  const config = worldModelConfig(tokenizer, withOverrides(worldModelConfig(tokenizer), { text: { numLayers: 1 }, vision: { numLayers: 1 } }));
  const base = Vlm.create(config, Rng.derive(5, 'study-pope/base'));
  await saveCheckpoint(path.join(dir, 'base'), base, { tokenizer });
  base.dispose();
}, 60_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('study pairs with POPE questions', () => {
  it('samples POPE questions beside the descriptions when asked, and rebuilds when the option changes', async () => {
    const settings = (popePairs: number): StudySettings => ({
      ...QUICK_SETTINGS,
      baseDir: path.join(dir, 'base'),
      outDir: path.join(dir, 'out'),
      pairScenes: 8,
      evalScenes: 2,
      relianceScenes: 1,
      statsScenes: 50,
      popePairs,
      backend: 'wasm',
    });
    const report = async () => JSON.parse(await readFile(path.join(dir, 'out', 'dataset', 'build-report.json'), 'utf8'));

    const logs: string[] = [];
    const withPope = await prepareStudy(settings(2), { onLog: (l) => logs.push(l) });
    const r1 = await report();
    expect(r1.settings.popePerScene).toBe(2);
    // 8 descriptions + 2 POPE questions per scene were sampled.
    expect(withPope.buildSummary.questions).toBe(8 * 3);

    const without = await prepareStudy(settings(0), { onLog: (l) => logs.push(l) });
    expect(logs.some((l) => l.startsWith('reusing the pair dataset'))).toBe(false);
    const r2 = await report();
    expect(r2.settings.popePerScene).toBe(0);
    expect(without.buildSummary.questions).toBe(8);
  });
});
