import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend';
import type { LogpValues } from './loss';
import { LossInputError, PREFERENCE_METRIC_NAMES, negLogSigmoid, preferenceLoss, preferenceValues } from './loss';
import { sftLoss, sftValues } from './sft';
import type { ObjectiveConfig } from './variants';
import { ObjectiveConfigError, VARIANT_NAMES, needsImageless, objectiveConfig, validateObjective } from './variants';

const LN2 = Math.log(2);

/**
 * Two pairs, β = 0.1, δ = 0:
 *   r(y_w|m)  = [-10 - -11, -12 - -12] = [ 1, 0]
 *   r(y_l|m)  = [-15 - -14,  -9 - -10] = [-1, 1]
 *   r(y_w|m') = [-20 - -18, -13 - -13] = [-2, 0]
 *   β z1 = [0.2, -0.1], β z2 = [0.3, 0], β z3 = [0.1, 0]
 */
const FIXED: LogpValues = {
  policyChosen: [-10, -12],
  refChosen: [-11, -12],
  policyRejected: [-15, -9],
  refRejected: [-14, -10],
  policyImageless: [-20, -13],
  refImageless: [-18, -13],
};
const sp = (x: number) => Math.log(1 + Math.exp(x)); // softplus, written out
// By hand (softplus(-x) = -log σ(x)), each checked against its decimal value below.
const DPO = (sp(-0.2) + sp(0.1)) / 2; // 0.67126776
const COND = (sp(-0.3) + sp(0)) / 2; // 0.62375121
const ANCHOR_W = (sp(-0.1) + sp(0)) / 2; // 0.66877192
const ANCHOR_L = (sp(-0.1) + sp(0.1)) / 2; // 0.69439666: softplus(-β(δ - r_l)) = softplus(β r_l)
const ANCHOR_M = (sp(-0.2) + sp(0)) / 2; // 0.64564302: softplus(β r(y_w|m'))

function tensors(lp: LogpValues) {
  return Object.fromEntries(Object.entries(lp).map(([k, v]) => [k, tf.tensor1d(Array.from(v as ArrayLike<number>))])) as never;
}

function tensorLoss(lp: LogpValues, config: ObjectiveConfig): number {
  return tf.tidy(() => preferenceLoss(tensors(lp), config).loss.dataSync()[0]);
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe('variants', () => {
  it('are configurations of the three terms', () => {
    expect(objectiveConfig('mdpo')).toEqual({
      variant: 'mdpo', beta: 0.1, delta: 0, terms: { dpo: 1, conditional: 1, anchor: 1 }, useImage: true, anchor: 'chosen',
    });
    expect(objectiveConfig('dpo').terms).toEqual({ dpo: 1, conditional: 0, anchor: 0 });
    expect(objectiveConfig('mdpo-no-conditional').terms).toEqual({ dpo: 1, conditional: 0, anchor: 1 });
    expect(objectiveConfig('mdpo-no-anchor').terms).toEqual({ dpo: 1, conditional: 1, anchor: 0 });
    expect(objectiveConfig('dpo-no-image')).toMatchObject({ terms: { dpo: 1, conditional: 0, anchor: 0 }, useImage: false });
    expect(needsImageless(objectiveConfig('dpo'))).toBe(false);
    expect(needsImageless(objectiveConfig('mdpo-no-conditional'))).toBe(false);
    expect(needsImageless(objectiveConfig('mdpo-no-conditional', { anchor: 'chosen+rejected+imageless' }))).toBe(true);
    expect(objectiveConfig('mdpo', { beta: 0.5, delta: 1, terms: { anchor: 2 } })).toMatchObject({
      beta: 0.5, delta: 1, terms: { dpo: 1, conditional: 1, anchor: 2 },
    });
    // Weights scale the terms a variant switches on; they cannot switch a term back on.
    expect(objectiveConfig('dpo', { terms: { conditional: 3, dpo: 2 } }).terms).toEqual({ dpo: 2, conditional: 0, anchor: 0 });
    expect(objectiveConfig('mdpo', { anchor: 'chosen+rejected+negative' }).anchor).toBe('chosen+rejected+imageless');
  });

  it('rejects bad settings up front', () => {
    expect(() => objectiveConfig('mdpo', { beta: 0 })).toThrow(/Expected beta to be a positive number, but got 0/);
    expect(() => objectiveConfig('mdpo', { terms: { dpo: -1 } })).toThrow(ObjectiveConfigError);
    expect(() => objectiveConfig('dpo', { terms: { dpo: 0 } })).toThrow(/Every term weight is 0/);
    expect(() => objectiveConfig('dpo-no-image', { anchor: 'chosen+rejected+imageless', terms: { anchor: 1 } })).not.toThrow();
    expect(() => validateObjective({ ...objectiveConfig('dpo-no-image'), terms: { dpo: 1, conditional: 1, anchor: 0 } })).toThrow(/needs useImage/);
    expect(() => objectiveConfig('ipo' as never)).toThrow(/Unknown variant "ipo"/);
  });
});

describe('preference loss, hand-computed for fixed log-probs', () => {
  it('the hand values are what they say', () => {
    expect(DPO).toBeCloseTo(0.6712677647, 9);
    expect(COND).toBeCloseTo(0.6237512125, 9);
    expect(ANCHOR_W).toBeCloseTo(0.6687719203, 9);
    expect(ANCHOR_L).toBeCloseTo(0.6943966601, 9);
    expect(ANCHOR_M).toBeCloseTo(0.6456430250, 9);
    expect(negLogSigmoid(0.3)).toBeCloseTo(sp(-0.3), 14);
    expect(negLogSigmoid(-800)).toBe(800); // stable where log(1 + e^800) overflows
  });

  const expected: Record<string, number> = {
    dpo: DPO, // 0.67126776
    mdpo: DPO + COND + ANCHOR_W, // 1.96379090
    'mdpo-no-conditional': DPO + ANCHOR_W, // 1.34003969
    'mdpo-no-anchor': DPO + COND, // 1.29501898
    'dpo-no-image': DPO,
  };
  for (const name of VARIANT_NAMES) {
    it(`${name}: loss and terms`, () => {
      const config = objectiveConfig(name);
      const { loss, terms } = preferenceValues(FIXED, config);
      expect(loss).toBeCloseTo(expected[name], 12);
      expect(terms).toMatchObject({ dpo: DPO, conditional: COND, anchor: ANCHOR_W });
      expect(tensorLoss(FIXED, config)).toBeCloseTo(expected[name], 6); // float32
    });
  }

  it('mdpo loss matches the decimal value', () => {
    expect(preferenceValues(FIXED, objectiveConfig('mdpo')).loss).toBeCloseTo(1.9637908976, 9);
  });

  it('anchor placements of table 4', () => {
    const cr = objectiveConfig('mdpo', { anchor: 'chosen+rejected' });
    const cri = objectiveConfig('mdpo', { anchor: 'chosen+rejected+imageless' });
    expect(preferenceValues(FIXED, cr).terms.anchor).toBeCloseTo(ANCHOR_W + ANCHOR_L, 12);
    expect(preferenceValues(FIXED, cr).loss).toBeCloseTo(2.6581875576, 9);
    expect(preferenceValues(FIXED, cri).terms.anchor).toBeCloseTo(ANCHOR_W + ANCHOR_L + ANCHOR_M, 12);
    expect(preferenceValues(FIXED, cri).loss).toBeCloseTo(3.3038305826, 9);
    expect(tensorLoss(FIXED, cr)).toBeCloseTo(2.6581875576, 6);
    expect(tensorLoss(FIXED, cri)).toBeCloseTo(3.3038305826, 6);
  });

  it('weights, β and δ', () => {
    const w = objectiveConfig('mdpo', { terms: { dpo: 2, conditional: 0.5, anchor: 3 } });
    expect(preferenceValues(FIXED, w).loss).toBeCloseTo(2 * DPO + 0.5 * COND + 3 * ANCHOR_W, 12);
    expect(tensorLoss(FIXED, w)).toBeCloseTo(2 * DPO + 0.5 * COND + 3 * ANCHOR_W, 5);
    // β = 1, δ = 0.5: anchor = mean(softplus(-(1 - 0.5)), softplus(-(0 - 0.5))) = 0.72407698
    const d = objectiveConfig('mdpo', { beta: 1, delta: 0.5 });
    expect(preferenceValues(FIXED, d).terms.anchor).toBeCloseTo((sp(-0.5) + sp(0.5)) / 2, 12);
    expect(preferenceValues(FIXED, d).terms.anchor).toBeCloseTo(0.7240769842, 9);
  });

  it('metrics, named as in docs/objective.md, rewards times β', () => {
    const { metrics } = preferenceValues(FIXED, objectiveConfig('mdpo'));
    expect(Object.keys(metrics).sort()).toEqual([...PREFERENCE_METRIC_NAMES].sort());
    const byHand: Record<string, number> = {
      loss: DPO + COND + ANCHOR_W,
      'loss/dpo': DPO,
      'loss/conditional': COND,
      'loss/anchor': ANCHOR_W,
      'rewards/chosen': 0.05, // 0.1 * mean(1, 0)
      'rewards/rejected': 0, // 0.1 * mean(-1, 1)
      'rewards/margins': 0.05, // 0.1 * mean(2, -1)
      'rewards/accuracies': 0.5, // 1 > -1 yes, 0 > 1 no
      'logps/chosen': -11,
      'logps/rejected': -12,
      'rewards/imageless_chosen': -0.1, // 0.1 * mean(-2, 0)
      'rewards/imageless_margins': 0.15, // 0.1 * mean(3, 0)
      'rewards/imageless_accuracies': 0.5, // 3 > 0 yes, 0 > 0 no
      'logps/imageless_chosen': -16.5,
    };
    for (const [k, v] of Object.entries(byHand)) expect(metrics[k as keyof typeof metrics], k).toBeCloseTo(v, 12);
  });

  it('without m\' log-probs: DPO works and reports no imageless metrics; mDPO refuses', () => {
    const { policyImageless: _p, refImageless: _r, ...noM } = FIXED;
    const { metrics } = preferenceValues(noM, objectiveConfig('dpo'));
    expect(metrics.loss).toBeCloseTo(DPO, 12);
    expect(metrics['rewards/imageless_margins']).toBeUndefined();
    expect(metrics['loss/conditional']).toBeUndefined();
    expect(() => preferenceValues(noM, objectiveConfig('mdpo'))).toThrow(LossInputError);
    expect(() => tf.tidy(() => preferenceLoss(tensors(noM), objectiveConfig('mdpo')).loss)).toThrow(/needs logp\(y_w \| m'\)/);
    expect(() => preferenceValues({ ...FIXED, refChosen: [1] }, objectiveConfig('dpo'))).toThrow(/refChosen to have 2 values/);
  });
});

describe('step 0 and m\' == m', () => {
  it('policy == reference: every term is log 2 and mdpo = 3 log 2', () => {
    const same: LogpValues = {
      policyChosen: [-3.5, -40], refChosen: [-3.5, -40], policyRejected: [-7, -2], refRejected: [-7, -2],
      policyImageless: [-9, -41], refImageless: [-9, -41],
    };
    const { loss, terms } = preferenceValues(same, objectiveConfig('mdpo'));
    expect(terms).toEqual({ dpo: LN2, conditional: LN2, anchor: LN2 });
    expect(loss).toBeCloseTo(3 * LN2, 15);
    expect(tensorLoss(same, objectiveConfig('mdpo'))).toBeCloseTo(3 * LN2, 6);
  });

  it('m\' == m: the conditional term is exactly log 2 whatever the weights', () => {
    const mIsM = { ...FIXED, policyImageless: FIXED.policyChosen, refImageless: FIXED.refChosen };
    expect(preferenceValues(mIsM, objectiveConfig('mdpo')).terms.conditional).toBe(LN2);
    const t = tf.tidy(() => preferenceLoss(tensors(mIsM), objectiveConfig('mdpo')).terms.conditional!.dataSync()[0]);
    expect(t).toBeCloseTo(LN2, 7);
  });
});

describe('gradient of the loss w.r.t. the log-probs', () => {
  it('matches central finite differences (float64 values vs tfjs gradient)', () => {
    const config = objectiveConfig('mdpo', { beta: 0.7, delta: 0.3, anchor: 'chosen+rejected+imageless' });
    const keys = ['policyChosen', 'policyRejected', 'policyImageless'] as const;
    const grads = tf.tidy(() => {
      const refs = tensors({ policyChosen: [], refChosen: FIXED.refChosen, refRejected: FIXED.refRejected, refImageless: FIXED.refImageless, policyRejected: [] });
      const f = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        preferenceLoss({ ...(refs as object), policyChosen: a, policyRejected: b, policyImageless: c } as never, config).loss;
      const inputs = keys.map((k) => tf.tensor1d(Array.from(FIXED[k]!)));
      return tf.grads(f)(inputs).map((g) => Array.from(g.dataSync()));
    });
    const h = 1e-5;
    keys.forEach((k, ki) => {
      for (let i = 0; i < 2; i++) {
        const at = (e: number) => {
          const v = Array.from(FIXED[k]!);
          v[i] += e;
          return preferenceValues({ ...FIXED, [k]: v }, config).loss;
        };
        const fd = (at(h) - at(-h)) / (2 * h);
        expect(Math.abs(fd)).toBeGreaterThan(1e-3);
        expect(grads[ki][i]).toBeCloseTo(fd, 5);
      }
    });
  });
});

describe('sft objective', () => {
  it('mean NLL per answer token', () => {
    // logps [-6, -2] over 3 + 1 tokens: (6 + 2) / 4 = 2
    expect(tf.tidy(() => sftLoss(tf.tensor1d([-6, -2]), 4).dataSync()[0])).toBeCloseTo(2, 6);
    expect(sftValues([-6, -2], [3, 1])).toEqual({ loss: 2, metrics: { loss: 2, perplexity: Math.exp(2) } });
    expect(() => sftLoss(tf.tensor1d([-1]), 0)).toThrow(/positive integer/);
  });
});
