/**
 * Reference log-probs, computed once per pair (adapters off, no gradient) and reused for the
 * whole run. The reference model never changes, so logp_ref(y | m) is a constant of the pair;
 * logp_ref(y_w | m') is one too when m' is fixed per pair. When m' is drawn anew each epoch,
 * its reference log-prob is computed with the step and not cached.
 *
 * Keys: "<pair id>\u0000chosen" | "...\u0000rejected" | "...\u0000imageless".
 * Saved with checkpoints so a resumed run uses the very same numbers.
 */

export type RefKind = 'chosen' | 'rejected' | 'imageless';

export class RefCache {
  private readonly values = new Map<string, number>();
  hits = 0;
  misses = 0;

  private static key(id: string, kind: RefKind): string {
    return `${id}\u0000${kind}`;
  }

  get(id: string, kind: RefKind): number | undefined {
    const v = this.values.get(RefCache.key(id, kind));
    if (v === undefined) this.misses += 1;
    else this.hits += 1;
    return v;
  }

  set(id: string, kind: RefKind, value: number): void {
    this.values.set(RefCache.key(id, kind), value);
  }

  get size(): number {
    return this.values.size;
  }

  export(): { keys: string[]; values: number[] } {
    return { keys: [...this.values.keys()], values: [...this.values.values()] };
  }

  static from(saved: { keys: string[]; values: number[] } | null): RefCache {
    const cache = new RefCache();
    if (saved) saved.keys.forEach((k, i) => cache.values.set(k, saved.values[i]));
    return cache;
  }
}
