import type { ImageData } from '../../../shared/api';
import { getApi } from './api';

const cache = new Map<string, Promise<ImageData>>();

/** images:get, cached per reference and size (references are immutable). */
export function loadImage(ref: string, size?: number): Promise<ImageData> {
  const key = `${ref}@${size ?? ''}`;
  let p = cache.get(key);
  if (!p) {
    p = getApi().images.get({ ref, size });
    p.catch(() => cache.delete(key));
    cache.set(key, p);
  }
  return p;
}
