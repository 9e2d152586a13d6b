/**
 * Progress and ETA from step timings: the mean duration of the last `window` steps times the
 * steps left. The first step after a (re)start is excluded: it pays for backend warm-up and
 * caches, and would make the first ETAs far too long.
 */
import type { RunProgress } from '../../shared/api';

export class EtaTracker {
  private readonly times: number[] = [];
  private readonly work: { pairs: number; tokens: number; ms: number }[] = [];
  private lastAt: number;
  private stepsSeen = 0;
  private readonly startedAt: number;

  constructor(
    private readonly window = 20,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.startedAt = this.lastAt = clock();
  }

  step(step: number, totalSteps: number, epoch: number, pairs: number, tokens: number): RunProgress {
    const t = this.clock();
    const ms = t - this.lastAt;
    this.lastAt = t;
    this.stepsSeen++;
    if (this.stepsSeen > 1) {
      this.times.push(ms);
      this.work.push({ pairs, tokens, ms });
      if (this.times.length > this.window) {
        this.times.shift();
        this.work.shift();
      }
    }
    const mean = this.times.length ? this.times.reduce((a, b) => a + b, 0) / this.times.length : null;
    const totalMs = this.work.reduce((a, w) => a + w.ms, 0);
    const rate = (key: 'pairs' | 'tokens') =>
      totalMs > 0 ? (this.work.reduce((a, w) => a + w[key], 0) * 1000) / totalMs : null;
    return {
      step,
      totalSteps,
      epoch,
      elapsedMs: t - this.startedAt,
      etaMs: mean == null ? null : Math.max(0, totalSteps - step) * mean,
      pairsPerSec: rate('pairs'),
      tokensPerSec: rate('tokens'),
    };
  }

  /** A pause should not count as a slow step. */
  resetClock(): void {
    this.lastAt = this.clock();
  }
}
