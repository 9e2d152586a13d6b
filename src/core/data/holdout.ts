/**
 * A held-out evaluation split of a preference dataset: `n` records drawn with the run's seed,
 * never trained on. The draw depends only on the records' ids and the seed (not on their
 * order), so a resumed run, the store and the CLI all agree on which records were held out.
 */
import { Rng } from '../rng';

export interface HeldOutSplit<T> {
  train: T[];
  heldOut: T[];
}

/** Splits off `n` records (by id, seeded); n = 0 keeps everything for training. */
export function splitHeldOut<T extends { id: string }>(records: readonly T[], n: number, seed: number): HeldOutSplit<T> {
  if (!Number.isInteger(n) || n < 0) throw new Error(`Expected holdOut to be a non-negative integer, but got ${n}`);
  if (n === 0) return { train: [...records], heldOut: [] };
  if (n >= records.length) {
    throw new Error(`holdOut ${n} leaves nothing to train on: the dataset has ${records.length} valid record(s); hold out fewer than ${records.length}.`);
  }
  const ids = [...new Set(records.map((r) => r.id))].sort();
  const chosen = new Set(Rng.derive(seed, 'eval/holdout').shuffle(ids).slice(0, n));
  return { train: records.filter((r) => !chosen.has(r.id)), heldOut: records.filter((r) => chosen.has(r.id)) };
}
