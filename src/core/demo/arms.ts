/**
 * The arms of the demo and the full study (docs/world.md#the-experiment): the
 * same base, pairs, seeds and steps for every arm; only the objective or m' differs.
 */
import type { VariantName } from '../objective/variants';

export interface NegativeSpec {
  strategy: 'crop' | 'random-image' | 'augment';
  cropMin?: number;
  cropMax?: number;
}

export interface ArmSpec {
  /** Unique name, used in tables, the store and file names. */
  name: string;
  /** An objective variant, or 'base' (no training: the base model itself). */
  variant: VariantName | 'base';
  /** m' for training (ignored by variants that do not score it); default crop 1-20%. */
  negative: NegativeSpec;
  description: string;
}

export const DEFAULT_NEGATIVE_SPEC: NegativeSpec = { strategy: 'crop', cropMin: 0.01, cropMax: 0.2 };

const arm = (name: string, variant: ArmSpec['variant'], description: string, negative: NegativeSpec = DEFAULT_NEGATIVE_SPEC): ArmSpec => ({
  name,
  variant,
  negative,
  description,
});

export const BASE_ARM = arm('base', 'base', 'the shipped base model, no preference training');
export const DPO_ARM = arm('dpo', 'dpo', 'DPO (z1 only)');
export const MDPO_ARM = arm('mdpo', 'mdpo', 'mDPO: DPO + conditional (m\' = crop 1-20%) + anchor');

/** base, dpo, mdpo. */
export const DEMO_ARMS: readonly ArmSpec[] = [BASE_ARM, DPO_ARM, MDPO_ARM];

/** Every arm of the full study. */
export const EXPERIMENT_ARMS: readonly ArmSpec[] = [
  BASE_ARM,
  DPO_ARM,
  MDPO_ARM,
  arm('mdpo-no-conditional', 'mdpo-no-conditional', 'mDPO without the conditional term (DPO + anchor)'),
  arm('mdpo-no-anchor', 'mdpo-no-anchor', 'mDPO without the anchor (DPO + conditional)'),
  arm('dpo-no-image', 'dpo-no-image', 'DPO with the image removed from the input (diagnostic)'),
  arm('mdpo-crop20-50', 'mdpo', 'mDPO with m\' = crop 20-50%', { strategy: 'crop', cropMin: 0.2, cropMax: 0.5 }),
  arm('mdpo-random-image', 'mdpo', 'mDPO with m\' = a random other image', { strategy: 'random-image' }),
];

export function negativeLabel(n: NegativeSpec): string {
  if (n.strategy === 'crop') return `crop ${Math.round((n.cropMin ?? 0.01) * 100)}-${Math.round((n.cropMax ?? 0.2) * 100)}%`;
  return n.strategy;
}

/** Whether training this arm draws m' at all (so the negative strategy matters). */
export function usesNegative(a: ArmSpec): boolean {
  return a.variant === 'mdpo' || a.variant === 'mdpo-no-anchor';
}

export function findArms(names: readonly string[], pool: readonly ArmSpec[] = EXPERIMENT_ARMS): ArmSpec[] {
  return names.map((n) => {
    const a = pool.find((x) => x.name === n);
    if (!a) throw new Error(`Unknown arm "${n}". Expected one of: ${pool.map((x) => x.name).join(', ')}.`);
    return a;
  });
}
