/**
 * The DPO / mDPO loss as a pure function of sequence log-probs (docs/objective.md#the-objective).
 *
 *   r(y | m) = logp_policy(y | m, q) - logp_ref(y | m, q)      implicit reward, before β
 *   z1 = r(y_w | m) - r(y_l | m)                                standard DPO
 *   z2 = r(y_w | m) - r(y_w | m')                               conditional preference
 *   z3 = r(y_w | m) - δ                                         anchor
 *   L  = w_dpo·softplus(-β z1) + w_cond·softplus(-β z2) + w_anchor·anchor     (mean over pairs)
 *
 * -log σ(x) is computed as softplus(-x): stable, and tfjs's logSigmoid gradient is broken.
 *
 * Anchor placements (paper table 4; the authors' code anchors only y_w). The extra anchors
 * push a reward that should go DOWN below δ, mirroring the chosen anchor:
 *   'chosen'                     softplus(-β (r(y_w|m) - δ))
 *   'chosen+rejected'            + softplus(-β (δ - r(y_l|m)))      rejected answer down
 *   'chosen+rejected+imageless'  + softplus(-β (δ - r(y_w|m')))     chosen answer on m' down
 * loss/anchor is the sum of the pieces of the placement (so 2 log 2 or 3 log 2 at step 0).
 *
 * Two forms of the same formulas:
 *  - `preferenceLoss`: tensors in, a differentiable scalar out (used inside variableGrads);
 *  - `preferenceValues`: plain numbers in (float64), {loss, terms, metrics} out; the loop
 *    reports these, and the tests pin them by hand.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ObjectiveConfig } from './variants';
import { needsImageless } from './variants';

/** Per-pair summed answer log-probs, each [B]. The reference ones carry no gradient. */
export interface PreferenceLogps<T> {
  policyChosen: T; // logp_policy(y_w | m)
  policyRejected: T; // logp_policy(y_l | m)
  refChosen: T; // logp_ref(y_w | m)
  refRejected: T; // logp_ref(y_l | m)
  /** logp(y_w | m'): needed by the conditional term and the anchor on m'; optional otherwise. */
  policyImageless?: T;
  refImageless?: T;
}

export type LogpTensors = PreferenceLogps<tf.Tensor1D>;
export type LogpValues = PreferenceLogps<ArrayLike<number>>;

/** Unweighted term values (means over pairs); `loss` is their weighted sum. */
export interface TermValues {
  dpo: number;
  conditional: number;
  anchor: number;
}

/** The metric names of docs/objective.md#metrics-logged-every-step (TRL's where TRL has them); rewards are multiplied by β. */
export const PREFERENCE_METRIC_NAMES = [
  'loss',
  'loss/dpo',
  'loss/conditional',
  'loss/anchor',
  'rewards/chosen',
  'rewards/rejected',
  'rewards/margins',
  'rewards/accuracies',
  'logps/chosen',
  'logps/rejected',
  'rewards/imageless_chosen',
  'rewards/imageless_margins',
  'rewards/imageless_accuracies',
  'logps/imageless_chosen',
] as const;
export type PreferenceMetricName = (typeof PREFERENCE_METRIC_NAMES)[number];
export type PreferenceMetrics = Partial<Record<PreferenceMetricName, number>>;

export class LossInputError extends Error {
  override name = 'LossInputError';
}

function requireImageless<T>(lp: PreferenceLogps<T>, config: ObjectiveConfig): { policy: T; ref: T } {
  if (lp.policyImageless === undefined || lp.refImageless === undefined) {
    throw new LossInputError(
      `The ${config.variant} objective needs logp(y_w | m') for the policy and the reference, but they were not given`,
    );
  }
  return { policy: lp.policyImageless, ref: lp.refImageless };
}

// ---------------------------------------------------------------- tensors (differentiable)

/** mean over pairs of -log σ(x) = softplus(-x). x: [B] -> [] */
function meanNegLogSigmoid(x: tf.Tensor1D): tf.Scalar {
  return tf.mean(tf.softplus(tf.neg(x)));
}

/**
 * The batch loss (mean over pairs) as a differentiable scalar, and each weighted-in term.
 * Terms with weight 0 are not computed (returned as undefined).
 */
export function preferenceLoss(
  lp: LogpTensors,
  config: ObjectiveConfig,
): { loss: tf.Scalar; terms: Partial<Record<keyof TermValues, tf.Scalar>> } {
  return tf.tidy(() => {
    const { beta, delta, terms: w } = config;
    const rChosen = tf.sub(lp.policyChosen, lp.refChosen); // [B]
    const rRejected = tf.sub(lp.policyRejected, lp.refRejected); // [B]
    const imageless = needsImageless(config) ? requireImageless(lp, config) : null;
    const rImageless = imageless ? tf.sub(imageless.policy, imageless.ref) : null; // [B]

    const terms: Partial<Record<keyof TermValues, tf.Scalar>> = {};
    const parts: tf.Scalar[] = [];
    if (w.dpo !== 0) {
      terms.dpo = meanNegLogSigmoid(tf.mul(tf.sub(rChosen, rRejected), beta)); // β z1
      parts.push(tf.mul(terms.dpo, w.dpo));
    }
    if (w.conditional !== 0 && rImageless) {
      terms.conditional = meanNegLogSigmoid(tf.mul(tf.sub(rChosen, rImageless), beta)); // β z2
      parts.push(tf.mul(terms.conditional, w.conditional));
    }
    if (w.anchor !== 0) {
      let anchor = meanNegLogSigmoid(tf.mul(tf.sub(rChosen, delta), beta)); // β z3
      if (config.anchor !== 'chosen') {
        anchor = tf.add(anchor, meanNegLogSigmoid(tf.mul(tf.sub(delta, rRejected), beta)));
      }
      if (config.anchor === 'chosen+rejected+imageless' && rImageless) {
        anchor = tf.add(anchor, meanNegLogSigmoid(tf.mul(tf.sub(delta, rImageless), beta)));
      }
      terms.anchor = anchor;
      parts.push(tf.mul(anchor, w.anchor));
    }
    const loss = parts.reduce((a, b) => tf.add(a, b)); // pairwise: see train/gradients.ts on addN
    return { loss, terms };
  });
}

// ---------------------------------------------------------------- plain numbers (reported)

/** -log σ(x) = softplus(-x), stable for large |x|. */
export function negLogSigmoid(x: number): number {
  const t = -x;
  return Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t)));
}

function mean(values: ArrayLike<number>, f: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += f(i);
  return s / values.length;
}

/**
 * The same loss in float64 on plain numbers, with its unweighted terms and every metric of
 * docs/objective.md. Terms and imageless metrics are reported whenever their inputs are given, even
 * when their weight is 0 (so a DPO run still shows its conditional loss); `loss` counts
 * only the weighted-in terms.
 */
export function preferenceValues(
  lp: LogpValues,
  config: ObjectiveConfig,
): { loss: number; terms: Partial<TermValues>; metrics: PreferenceMetrics } {
  const n = lp.policyChosen.length;
  for (const [key, v] of Object.entries(lp)) {
    if (v !== undefined && v.length !== n) {
      throw new LossInputError(`Expected ${key} to have ${n} values (one per pair), but got ${v.length}`);
    }
  }
  if (n === 0) throw new LossInputError('Expected at least one pair, but got 0');
  if (needsImageless(config)) requireImageless(lp, config);
  const { beta, delta, terms: w } = config;
  const rW = (i: number) => lp.policyChosen[i] - lp.refChosen[i];
  const rL = (i: number) => lp.policyRejected[i] - lp.refRejected[i];
  const hasImageless = lp.policyImageless !== undefined && lp.refImageless !== undefined;
  const rWm = (i: number) => lp.policyImageless![i] - lp.refImageless![i];
  const over = (f: (i: number) => number) => mean(lp.policyChosen, f);

  const terms: Partial<TermValues> = {};
  terms.dpo = over((i) => negLogSigmoid(beta * (rW(i) - rL(i))));
  if (hasImageless) terms.conditional = over((i) => negLogSigmoid(beta * (rW(i) - rWm(i))));
  let anchor = over((i) => negLogSigmoid(beta * (rW(i) - delta)));
  if (config.anchor !== 'chosen') anchor += over((i) => negLogSigmoid(beta * (delta - rL(i))));
  if (config.anchor === 'chosen+rejected+imageless') {
    anchor = hasImageless ? anchor + over((i) => negLogSigmoid(beta * (delta - rWm(i)))) : NaN;
  }
  if (!Number.isNaN(anchor)) terms.anchor = anchor;

  let loss = w.dpo * terms.dpo;
  if (w.conditional !== 0) loss += w.conditional * terms.conditional!;
  if (w.anchor !== 0) loss += w.anchor * terms.anchor!;

  const metrics: PreferenceMetrics = {
    loss,
    'loss/dpo': terms.dpo,
    'rewards/chosen': over((i) => beta * rW(i)),
    'rewards/rejected': over((i) => beta * rL(i)),
    'rewards/margins': over((i) => beta * (rW(i) - rL(i))),
    'rewards/accuracies': over((i) => (rW(i) > rL(i) ? 1 : 0)),
    'logps/chosen': over((i) => lp.policyChosen[i]),
    'logps/rejected': over((i) => lp.policyRejected[i]),
  };
  if (terms.conditional !== undefined) metrics['loss/conditional'] = terms.conditional;
  if (terms.anchor !== undefined) metrics['loss/anchor'] = terms.anchor;
  if (hasImageless) {
    metrics['rewards/imageless_chosen'] = over((i) => beta * rWm(i));
    metrics['rewards/imageless_margins'] = over((i) => beta * (rW(i) - rWm(i)));
    metrics['rewards/imageless_accuracies'] = over((i) => (rW(i) - rWm(i) > 0 ? 1 : 0));
    metrics['logps/imageless_chosen'] = over((i) => lp.policyImageless![i]);
  }
  return { loss, terms, metrics };
}
