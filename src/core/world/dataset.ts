/**
 * Writes world data as ordinary folders, so it enters the app through the same import path as
 * real data:
 *   <dir>/images/<scene id>.png
 *   <dir>/data.json         mDPO/Silkie list of {img_path, prompt, chosen, rejected}
 *   <dir>/annotations.json  optional extras: per-image objects and why each pair was made
 * data.json holds nothing but the four standard fields, so any mDPO-format reader accepts it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { scenePng } from './render';
import { sceneAnnotation, type SceneAnnotation } from './annotations';
import type { Scene } from './scene';

export const ANNOTATIONS_FORMAT = 'mdpo-studio/world-annotations@1';

export interface PreferencePairRecord {
  scene: Scene;
  prompt: string;
  chosen: string;
  rejected: string;
  /** Why the pair was made (the judge's reason). */
  why: string;
  chosenHallucinated?: string[];
  rejectedHallucinated?: string[];
}

export interface SilkieRecord {
  img_path: string;
  prompt: string;
  chosen: string;
  rejected: string;
}

export interface DatasetAnnotations {
  format: typeof ANNOTATIONS_FORMAT;
  /** Keyed by img_path as written in data.json. */
  images: Record<string, SceneAnnotation>;
  /** Same order as data.json. */
  pairs: Array<{ why: string; chosenHallucinated: string[]; rejectedHallucinated: string[] }>;
}

export function imagePath(scene: Scene): string {
  return `images/${scene.id}.png`;
}

/** Writes each distinct scene's PNG once; returns the annotations keyed by img_path. */
export async function writeSceneImages(dir: string, scenes: readonly Scene[]): Promise<Record<string, SceneAnnotation>> {
  await mkdir(path.join(dir, 'images'), { recursive: true });
  const images: Record<string, SceneAnnotation> = {};
  for (const scene of scenes) {
    const rel = imagePath(scene);
    if (images[rel]) continue;
    await writeFile(path.join(dir, rel), await scenePng(scene));
    images[rel] = sceneAnnotation(scene);
  }
  return images;
}

/** A preference dataset folder; returns the data.json records it wrote. */
export async function writePreferenceDataset(dir: string, pairs: readonly PreferencePairRecord[]): Promise<SilkieRecord[]> {
  if (pairs.length === 0) throw new Error('Expected at least one preference pair to write, but got none');
  const images = await writeSceneImages(dir, pairs.map((p) => p.scene));
  const records = pairs.map((p) => ({ img_path: imagePath(p.scene), prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }));
  const annotations: DatasetAnnotations = {
    format: ANNOTATIONS_FORMAT,
    images,
    pairs: pairs.map((p) => ({ why: p.why, chosenHallucinated: p.chosenHallucinated ?? [], rejectedHallucinated: p.rejectedHallucinated ?? [] })),
  };
  await writeFile(path.join(dir, 'data.json'), JSON.stringify(records, null, 1) + '\n');
  await writeFile(path.join(dir, 'annotations.json'), JSON.stringify(annotations, null, 1) + '\n');
  return records;
}

/** A folder of scenes without pairs (e.g. the held-out evaluation set): images + annotations. */
export async function writeSceneSet(dir: string, scenes: readonly Scene[]): Promise<void> {
  const images = await writeSceneImages(dir, scenes);
  await writeFile(path.join(dir, 'annotations.json'), JSON.stringify({ format: ANNOTATIONS_FORMAT, images, pairs: [] }, null, 1) + '\n');
}
