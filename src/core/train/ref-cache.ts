/**
 * Reference log-probs, computed once per pair (adapters off, no gradient) and reused for the
 * whole run. The reference model never changes, so logp_ref(y | m) is a constant of the pair;
 * logp_ref(y_w | m') is one too when m' is fixed per pair. When m' is drawn anew each epoch,
 * its reference log-prob is computed with the step and not cached.
 *
 * Keys: "<pair id>\u0000chosen" | "...\u0000rejected" | "...\u0000imageless", within a SCOPE:
 * fingerprint.ts `referenceScope(inputs)`, a hash of the base weights, tokenizer, dataset and
 * m' fingerprints. Saved with checkpoints so a resumed run uses the very same numbers; a saved
 * cache whose scope differs from the run's (or that has none) is never used.
 */

export type RefKind = 'chosen' | 'rejected' | 'imageless';

export interface SavedRefCache {
  /** referenceScope() of the inputs the values were computed from. */
  scope: string;
  keys: string[];
  values: number[];
}

export class RefCache {
  private readonly values = new Map<string, number>();
  hits = 0;
  misses = 0;

  constructor(readonly scope: string) {}

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

  export(): SavedRefCache {
    return { scope: this.scope, keys: [...this.values.keys()], values: [...this.values.values()] };
  }

  /** A cache for `scope`, filled from `saved` only when it was computed in the same scope. */
  static from(saved: Partial<SavedRefCache> | null, scope: string): RefCache {
    const cache = new RefCache(scope);
    if (saved && saved.scope === scope && saved.keys && saved.values) {
      const values = saved.values;
      saved.keys.forEach((k, i) => cache.values.set(k, values[i]));
    }
    return cache;
  }
}
