/**
 * The torch engine's images folder (src/main/python/images.ts, python/PROTOCOL.md 3.1): m and
 * m' rendered by the app's data code are the SAME pixels the tfjs engine trains on
 * (PreferenceTask.negative), per epoch when m' is redrawn, held-out and unreadable records are
 * skipped with a reason, and a finished folder is reused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitHeldOut } from '../src/core/data/holdout';
import { importDataset } from '../src/core/data/import';
import { strategyFromConfig } from '../src/core/data/negatives';
import { createPreferenceSource } from '../src/core/data/source';
import type { PreferenceRecord } from '../src/core/data/types';
import { loopConfigFromShared } from '../src/core/train/from-shared';
import { PreferenceTask } from '../src/core/train/preference-task';
import { FALLBACK_IMAGE_SIZE, imageGeometry, negativeEpochs, renderTorchImages, type ImagesManifest } from '../src/main/python/images';
import { trainConfigSchema, type TrainConfig } from '../src/shared/schemas';
import { writeGradientDataset } from './torch-fixtures';

const tmp = mkdtempSync(join(tmpdir(), 'mdpo-torch-images-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let records: PreferenceRecord[];
let recordsFile: string;
beforeAll(async () => {
  const root = await writeGradientDataset(tmp, 6);
  records = (await importDataset(root)).records;
  expect(records).toHaveLength(6);
  recordsFile = join(tmp, 'records.json');
  writeFileSync(recordsFile, JSON.stringify(records));
});

const config = (over: Record<string, unknown> = {}): TrainConfig =>
  trainConfigSchema.parse({ datasetId: 1, engine: 'torch', baseModel: join(tmp, 'no-such-model'), seed: 7, torch: { imageSize: 16 }, ...over });

async function rawPng(file: string): Promise<Uint8Array> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  expect([info.height, info.width, info.channels]).toEqual([16, 16, 3]);
  return new Uint8Array(data);
}

const bytes = (image: Float32Array) => Uint8Array.from(image, (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));

describe('torch images folder', () => {
  it('m and every m\' equal the tfjs engine\'s pixels; epochs, held-out records and reuse', async () => {
    // 6 records, 1 held out -> N = 5; 7 steps of 2 pairs redraw m' over ceil(14 / 5) = 3 epochs.
    const c = config({ holdOut: 1, maxSteps: 7, batchSize: 2, gradAccum: 1, negative: { fixedPerPair: false } });
    expect(negativeEpochs(c, 5)).toBe(3);
    const outDir = join(tmp, 'run-a', 'torch-images');
    const logs: string[] = [];
    const { manifest, reused } = await renderTorchImages({ config: c, recordsFile, outDir, home: tmp, log: (m) => logs.push(m) });
    expect(reused).toBe(false);
    expect(manifest).toMatchObject({ format: 'mdpo-studio/torch-images', version: 1, seed: 7, epochs: 3, size: [16, 16], fit: 'fill', strategy: c.negative });
    expect(manifest.pairs.map((p) => p.index)).toEqual([0, 1, 2, 3, 4, 5]);
    const heldId = splitHeldOut(records, 1, 7).heldOut[0]!.id;
    const held = manifest.pairs.find((p) => p.id === heldId)!;
    expect(held).toEqual({ index: records.findIndex((r) => r.id === heldId), id: heldId, skipped: 'held out for evaluation (holdOut)' });

    // The tfjs engine's own m' (PreferenceTask.negative) for the same pairs, seed and epochs.
    const train = records.filter((r) => r.id !== heldId);
    const source = await createPreferenceSource(train, { tokenizer: { encode: () => [] }, endTokenId: 0, preprocess: { size: 16, fit: 'fill' }, strategy: strategyFromConfig(c.negative) });
    const task = new PreferenceTask(null as never, source, loopConfigFromShared(c, { checkpointDir: null, defaultLearningRate: 1e-5 }));
    for (let i = 0; i < source.size; i++) {
      const ex = source.example(i);
      const entry = manifest.pairs.find((p) => p.id === ex.id)!;
      if (!('image' in entry)) throw new Error(`pair ${ex.id} was skipped`);
      expect(await rawPng(join(outDir, entry.image))).toEqual(bytes(ex.image));
      expect(entry.negatives).toEqual([0, 1, 2].map((e) => `neg/${String(entry.index).padStart(6, '0')}-e${e}.png`));
      const perEpoch = await Promise.all(entry.negatives.map((f) => rawPng(join(outDir, f))));
      perEpoch.forEach((png, epoch) => expect(png).toEqual(bytes(task.negative(i, ex, epoch))));
      expect(perEpoch[0]).not.toEqual(perEpoch[1]); // redrawn per epoch
      expect(perEpoch[0]).not.toEqual(bytes(ex.image)); // a crop of 1-20% of the area, not m
    }
    expect(JSON.parse(readFileSync(join(outDir, 'manifest.json'), 'utf8'))).toEqual(manifest);

    // Same inputs: the finished folder is reused. A different seed renders again.
    expect((await renderTorchImages({ config: c, recordsFile, outDir, home: tmp })).reused).toBe(true);
    const again = await renderTorchImages({ config: { ...c, seed: 8 }, recordsFile, outDir, home: tmp });
    expect(again.reused).toBe(false);
    expect(again.manifest.seed).toBe(8);
  });

  it('fixed m\' per pair: one per pair; dpo needs none', async () => {
    const fixed = await renderTorchImages({ config: config(), recordsFile, outDir: join(tmp, 'run-b', 'torch-images'), home: tmp });
    expect(fixed.manifest.epochs).toBe(1);
    expect(fixed.manifest.pairs.every((p) => 'negatives' in p && p.negatives.length === 1)).toBe(true);
    const dpo = await renderTorchImages({ config: config({ variant: 'dpo' }), recordsFile, outDir: join(tmp, 'run-c', 'torch-images'), home: tmp });
    expect(dpo.manifest.pairs.every((p) => 'negatives' in p && p.negatives.length === 0)).toBe(true);
  });

  it('a record whose image is gone is skipped with its file named; none usable is an error', async () => {
    const broken = records.map((r, i) => (i === 2 && r.image.kind === 'file' ? { ...r, image: { ...r.image, path: join(tmp, 'gone.png') }, imageInfo: undefined } : r));
    const file = join(tmp, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    const logs: string[] = [];
    const { manifest } = await renderTorchImages({ config: config(), recordsFile: file, outDir: join(tmp, 'run-d', 'torch-images'), home: join(tmp, 'home-d'), log: (m) => logs.push(m) });
    const skipped = manifest.pairs[2] as Extract<ImagesManifest['pairs'][number], { skipped: string }>;
    expect(skipped.skipped).toContain(join(tmp, 'gone.png'));
    expect(logs).toEqual([`skipped record ${records[2]!.index} (${records[2]!.id}): ${skipped.skipped}`]);

    const none = join(tmp, 'none.json');
    writeFileSync(none, JSON.stringify(broken.slice(2, 3)));
    const outDir = join(tmp, 'run-e', 'torch-images');
    await expect(renderTorchImages({ config: config(), recordsFile: none, outDir, home: join(tmp, 'home-e') })).rejects.toThrow(`None of the 1 training records of ${none} has a usable image: Record ${records[2]!.index}`);
  });

  it('geometry: the configured side, else the fallback for folders the app does not read', async () => {
    expect(await imageGeometry(config())).toEqual({ size: 16, fit: 'fill' });
    const logs: string[] = [];
    expect(await imageGeometry(config({ torch: { imageSize: null } }), (m) => logs.push(m))).toEqual({ size: FALLBACK_IMAGE_SIZE, fit: 'fill' });
    expect(logs[0]).toMatch(new RegExp(`^images at 448 px: the app's own reader does not take ${join(tmp, 'no-such-model')} \\(`));
  });
});
