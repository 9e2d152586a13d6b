/**
 * Small-sample statistics for human judgments on probe sets: the Wilson score interval for a
 * proportion (a hallucination rate) and the two-sided exact sign test for paired preferences
 * (A better vs B better, ties dropped). Pure functions of counts.
 */

/** z for a two-sided 95% interval: the 0.975 quantile of the standard normal. */
export const Z95 = 1.959963984540054;

export interface Interval {
  /** k / n (0 when n is 0). */
  estimate: number;
  low: number;
  high: number;
}

function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`Expected ${name} to be a non-negative integer, but got ${v}`);
}

/**
 * Wilson score interval (Wilson 1927) for k successes in n trials. Unlike the normal
 * approximation it stays inside [0, 1] and is not empty at k = 0 or k = n. n = 0 gives [0, 1].
 */
export function wilsonInterval(k: number, n: number, z = Z95): Interval {
  checkCount('k', k);
  checkCount('n', n);
  if (k > n) throw new Error(`Expected k <= n, but got k = ${k}, n = ${n}`);
  if (n === 0) return { estimate: 0, low: 0, high: 1 };
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // Clamp rounding at the ends (k = 0 gives low = 1e-17 otherwise).
  return { estimate: p, low: k === 0 ? 0 : Math.max(0, centre - half), high: k === n ? 1 : Math.min(1, centre + half) };
}

/** log C(n, i) by summing logs (exact enough for n up to millions, no overflow). */
function logChoose(n: number, i: number): number {
  let s = 0;
  const m = Math.min(i, n - i);
  for (let j = 1; j <= m; j++) s += Math.log(n - m + j) - Math.log(j);
  return s;
}

export interface SignTest {
  wins: number;
  losses: number;
  /** wins + losses (ties are not counted). */
  n: number;
  /** Two-sided exact p-value under H0: P(win) = 1/2; 1 when n is 0. */
  p: number;
}

/**
 * Two-sided exact sign test: p = min(1, 2 * P(X <= min(wins, losses))), X ~ Binomial(n, 1/2).
 * Ties carry no direction and are left out before calling (pass wins and losses only).
 */
export function signTest(wins: number, losses: number): SignTest {
  checkCount('wins', wins);
  checkCount('losses', losses);
  const n = wins + losses;
  if (n === 0) return { wins, losses, n, p: 1 };
  const k = Math.min(wins, losses);
  let tail = 0;
  for (let i = 0; i <= k; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
  return { wins, losses, n, p: Math.min(1, 2 * tail) };
}
