/**
 * The project's one seeded generator (sfc32). Everything random in training and in the
 * built-in world draws from it: data order, crops, dropout masks, initialisation, sampling.
 *
 * Its state is four 32-bit words, saved in checkpoints so a resumed run continues the exact
 * same stream. `fork(label)` derives an independent stream from the seed and a label, so that
 * adding a draw in one place does not shift every other stream.
 */

export type RngState = [number, number, number, number];

/** 32-bit FNV-1a of a string: turns labels into seed material. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | RngState) {
    if (Array.isArray(seed)) {
      [this.a, this.b, this.c, this.d] = seed.map((v) => v >>> 0) as RngState;
      return;
    }
    if (!Number.isInteger(seed)) throw new Error(`Expected seed to be an integer, but got ${seed}`);
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    // Also mix the high bits of seeds beyond 2^32.
    this.a ^= Math.floor(seed / 2 ** 32) >>> 0;
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  /** A generator seeded from this one's seed material and a label; this one is not advanced. */
  static derive(seed: number, label: string): Rng {
    return new Rng([seed >>> 0, hashString(label), 0x6a09e667, 0xbb67ae85 ^ (seed >>> 0)]).warm();
  }

  private warm(): this {
    for (let i = 0; i < 15; i++) this.nextUint32();
    return this;
  }

  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Expected n to be a positive integer, but got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller; one value per call, the pair's second is discarded). */
  normal(): number {
    let u = this.next();
    while (u <= 1e-12) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element chosen uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Cannot pick from an empty list');
    return items[this.int(items.length)];
  }

  /** Fisher-Yates, in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** An independent child stream; advances this generator by one draw. */
  fork(label = ''): Rng {
    return new Rng([this.nextUint32(), hashString(label), this.nextUint32(), 0x3c6ef372]).warm();
  }

  /** Saved with checkpoints. */
  state(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  setState(state: RngState): void {
    [this.a, this.b, this.c, this.d] = state.map((v) => v >>> 0) as RngState;
  }
}
