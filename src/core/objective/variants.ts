/**
 * The objective variants of docs/objective.md as CONFIGURATIONS of one loss (loss.ts), not copies of it.
 *
 *   L = w_dpo * -log σ(β z1) + w_cond * -log σ(β z2) + w_anchor * anchor(placement)
 *
 * | name                | z1 | z2 | z3 | image in the input |
 * |---------------------|----|----|----|--------------------|
 * | dpo                 | 1  | 0  | 0  | yes                |
 * | mdpo                | 1  | 1  | 1  | yes                |
 * | mdpo-no-conditional | 1  | 0  | 1  | yes                |
 * | mdpo-no-anchor      | 1  | 1  | 0  | yes                |
 * | dpo-no-image        | 1  | 0  | 0  | no (diagnostic)    |
 *
 * Anchor placements (paper table 4): see loss.ts for the exact anchor of each placement.
 */

export const VARIANT_NAMES = ['dpo', 'mdpo', 'mdpo-no-conditional', 'mdpo-no-anchor', 'dpo-no-image'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];

export const ANCHOR_PLACEMENTS = ['chosen', 'chosen+rejected', 'chosen+rejected+imageless'] as const;
export type AnchorPlacement = (typeof ANCHOR_PLACEMENTS)[number];

/** Weights of the three terms of docs/objective.md; 0 switches a term off. */
export interface TermWeights {
  dpo: number;
  conditional: number;
  anchor: number;
}

export interface ObjectiveConfig {
  /** The variant these settings started from (for logs and checkpoints). */
  variant: VariantName;
  /** β, shared by every term. */
  beta: number;
  /** δ, the anchor's target reward (before β). */
  delta: number;
  terms: TermWeights;
  /** false: the policy and the reference see no image at all (dpo-no-image). */
  useImage: boolean;
  anchor: AnchorPlacement;
}

export const DEFAULT_BETA = 0.1;
export const DEFAULT_DELTA = 0;

const PRESETS: Record<VariantName, { terms: TermWeights; useImage: boolean }> = {
  dpo: { terms: { dpo: 1, conditional: 0, anchor: 0 }, useImage: true },
  mdpo: { terms: { dpo: 1, conditional: 1, anchor: 1 }, useImage: true },
  'mdpo-no-conditional': { terms: { dpo: 1, conditional: 0, anchor: 1 }, useImage: true },
  'mdpo-no-anchor': { terms: { dpo: 1, conditional: 1, anchor: 0 }, useImage: true },
  'dpo-no-image': { terms: { dpo: 1, conditional: 0, anchor: 0 }, useImage: false },
};

export class ObjectiveConfigError extends Error {
  override name = 'ObjectiveConfigError';
}

export function isVariantName(value: string): value is VariantName {
  return (VARIANT_NAMES as readonly string[]).includes(value);
}

export interface ObjectiveOverrides {
  beta?: number;
  delta?: number;
  /** Scales of the terms the variant switches on (a variant's 0 stays 0), as in TrainConfig.weights. */
  terms?: Partial<TermWeights>;
  /** 'chosen+rejected+negative' (src/shared's name) is accepted for 'chosen+rejected+imageless'. */
  anchor?: AnchorPlacement | 'chosen+rejected+negative';
}

/**
 * The full configuration of a variant. β, δ and the anchor placement are overridable; the
 * term weights multiply the variant's on/off switches (so `dpo` ignores a conditional weight).
 */
export function objectiveConfig(variant: VariantName = 'mdpo', overrides: ObjectiveOverrides = {}): ObjectiveConfig {
  if (!isVariantName(variant)) {
    throw new ObjectiveConfigError(`Unknown variant "${String(variant)}". Expected one of: ${VARIANT_NAMES.join(', ')}.`);
  }
  const preset = PRESETS[variant];
  const config: ObjectiveConfig = {
    variant,
    beta: overrides.beta ?? DEFAULT_BETA,
    delta: overrides.delta ?? DEFAULT_DELTA,
    terms: {
      dpo: preset.terms.dpo * (overrides.terms?.dpo ?? 1),
      conditional: preset.terms.conditional * (overrides.terms?.conditional ?? 1),
      anchor: preset.terms.anchor * (overrides.terms?.anchor ?? 1),
    },
    useImage: preset.useImage,
    anchor: overrides.anchor === 'chosen+rejected+negative' ? 'chosen+rejected+imageless' : (overrides.anchor ?? 'chosen'),
  };
  validateObjective(config);
  return config;
}

/** Plain up-front errors for a configuration that came from a file or the UI. */
export function validateObjective(config: ObjectiveConfig): void {
  if (!Number.isFinite(config.beta) || config.beta <= 0) {
    throw new ObjectiveConfigError(`Expected beta to be a positive number, but got ${config.beta}`);
  }
  if (!Number.isFinite(config.delta)) {
    throw new ObjectiveConfigError(`Expected delta to be a finite number, but got ${config.delta}`);
  }
  for (const [name, w] of Object.entries(config.terms)) {
    if (!Number.isFinite(w) || w < 0) {
      throw new ObjectiveConfigError(`Expected the ${name} weight to be a number >= 0, but got ${w}`);
    }
  }
  if (config.terms.dpo + config.terms.conditional + config.terms.anchor === 0) {
    throw new ObjectiveConfigError('Every term weight is 0: the objective would be constant.');
  }
  if (!(ANCHOR_PLACEMENTS as readonly string[]).includes(config.anchor)) {
    throw new ObjectiveConfigError(
      `Unknown anchor placement "${config.anchor}". Expected one of: ${ANCHOR_PLACEMENTS.join(', ')}.`,
    );
  }
  if (!config.useImage && needsImageless(config)) {
    throw new ObjectiveConfigError(
      'Without the image there is no corrupted image either: a conditional term or an anchor on m\' needs useImage.',
    );
  }
}

/** Whether the loss needs logp(y_w | m') (the conditional term, or an anchor on m'). */
export function needsImageless(config: ObjectiveConfig): boolean {
  return (
    config.terms.conditional !== 0 || (config.terms.anchor !== 0 && config.anchor === 'chosen+rejected+imageless')
  );
}
