import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ANNOTATIONS_FORMAT, writePreferenceDataset, writeSceneSet } from './dataset';
import { decodePng, renderScene } from './render';
import { pairScenes } from './splits';
import { DESCRIBE_PROMPT } from './grammar';
import { sceneCaption } from './sft';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), 'world-dataset-'));
  dirs.push(d);
  return d;
}

describe('writePreferenceDataset', () => {
  it('writes images/*.png, a plain mDPO data.json and annotations.json', async () => {
    const dir = await tmp();
    const [a, b] = pairScenes(3, 2);
    const pairs = [
      { scene: a, prompt: DESCRIBE_PROMPT, chosen: sceneCaption(a), rejected: 'a pink star.', why: 'test 1', rejectedHallucinated: ['pink star'] },
      { scene: a, prompt: 'Is there a red ring in the image?', chosen: 'no', rejected: 'yes', why: 'test 2' },
      { scene: b, prompt: DESCRIBE_PROMPT, chosen: sceneCaption(b), rejected: 'x', why: 'test 3' },
    ];
    await writePreferenceDataset(dir, pairs);
    expect((await readdir(path.join(dir, 'images'))).sort()).toEqual(['pairs-0.png', 'pairs-1.png']);
    const data = JSON.parse(await readFile(path.join(dir, 'data.json'), 'utf8'));
    expect(data).toHaveLength(3);
    expect(Object.keys(data[0]).sort()).toEqual(['chosen', 'img_path', 'prompt', 'rejected']);
    expect(data[1]).toEqual({ img_path: 'images/pairs-0.png', prompt: 'Is there a red ring in the image?', chosen: 'no', rejected: 'yes' });
    const png = await readFile(path.join(dir, data[2].img_path));
    expect(Buffer.from((await decodePng(png)).raster).equals(Buffer.from(renderScene(b)))).toBe(true);
    const ann = JSON.parse(await readFile(path.join(dir, 'annotations.json'), 'utf8'));
    expect(ann.format).toBe(ANNOTATIONS_FORMAT);
    expect(ann.images['images/pairs-1.png'].objects.map((o: { name: string }) => o.name)).toEqual(b.objects.map((o) => `${o.color} ${o.shape}`));
    expect(ann.pairs[0]).toEqual({ why: 'test 1', chosenHallucinated: [], rejectedHallucinated: ['pink star'] });
  });

  it('refuses an empty pair list, and writes bare scene sets', async () => {
    await expect(writePreferenceDataset(await tmp(), [])).rejects.toThrow('Expected at least one preference pair');
    const dir = await tmp();
    await writeSceneSet(dir, pairScenes(4, 3));
    expect(await readdir(path.join(dir, 'images'))).toHaveLength(3);
    const ann = JSON.parse(await readFile(path.join(dir, 'annotations.json'), 'utf8'));
    expect(Object.keys(ann.images)).toHaveLength(3);
    expect(ann.images['images/pairs-0.png'].bait.length).toBeGreaterThan(0);
  });
});
