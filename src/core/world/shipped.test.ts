/**
 * The shipped base checkpoint (resources/base-model/, made by scripts/world-base.ts) loads
 * and captions held-out scenes in the world's grammar.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import { loadCheckpoint } from '../model/checkpoint';
import { greedyAnswerer } from './answerers';
import { DESCRIBE_PROMPT, parseDescription } from './grammar';
import { sceneKeys } from './scene';
import { evalScenes } from './splits';
import { objectKey } from './objects';

const dir = path.resolve(__dirname, '../../../resources/base-model');

// The checkpoint is tracked in git: a missing file is a broken checkout or build, never a reason
// to skip (this test used to skip silently, so CI could pass without the shipped model).
describe('shipped base model', () => {
  it('is there: config, weights and tokenizer', () => {
    for (const file of ['config.json', 'model.safetensors', 'tokenizer.json']) {
      expect(existsSync(path.join(dir, file)), `${path.join(dir, file)} is missing: restore it from git, or rebuild it with scripts/world-base.ts`).toBe(true);
    }
  });

  it('loads and captions held-out scenes in the grammar, mostly right', async () => {
    await initBackend('wasm');
    const { model, tokenizer } = await loadCheckpoint(dir);
    expect(tokenizer).not.toBeNull();
    const scenes = evalScenes(1, 8);
    const captions = await greedyAnswerer(model, tokenizer!)(scenes, scenes.map(() => DESCRIBE_PROMPT));
    let covered = 0;
    let truth = 0;
    scenes.forEach((s, i) => {
      const parsed = parseDescription(captions[i]);
      expect(parsed.unparsed, captions[i]).toEqual([]);
      const said = new Set(parsed.objects.map(objectKey));
      truth += s.objects.length;
      covered += sceneKeys(s).filter((k) => said.has(k)).length;
    });
    expect(covered / truth).toBeGreaterThan(0.5);
    model.dispose();
  });
});
