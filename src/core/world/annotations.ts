/**
 * The JSON annotation of a scene (docs/world.md): objects with boxes, theme, and the "bait"
 * objects (absent but typical of the theme) that AMBER's Cog counts. Written beside the PNGs
 * so the app's inspector, and any outside tool, can mark hallucinated objects exactly.
 */
import { objectKey } from './objects';
import { sceneKeys, type Scene } from './scene';
import { typicalKeys } from './themes';

export interface ObjectAnnotation {
  name: string;
  color: string;
  shape: string;
  /** [x, y, w, h] in pixels, top-left origin. */
  bbox: [number, number, number, number];
}

export interface SceneAnnotation {
  id: string;
  width: number;
  height: number;
  theme: string;
  /** Left to right, as captions list them. */
  objects: ObjectAnnotation[];
  /** Absent objects typical of the theme: what a prior-driven model is tempted to claim. */
  bait: string[];
}

export function sceneAnnotation(scene: Scene): SceneAnnotation {
  const present = sceneKeys(scene);
  return {
    id: scene.id,
    width: scene.imageSize,
    height: scene.imageSize,
    theme: scene.theme,
    objects: scene.objects.map((o) => ({ name: objectKey(o), color: o.color, shape: o.shape, bbox: [o.x, o.y, o.w, o.h] })),
    bait: typicalKeys(scene.theme).filter((k) => !present.includes(k)),
  };
}
