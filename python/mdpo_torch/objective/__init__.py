"""The preference objective (src/core/objective): variants as configurations of one loss."""
from .loss import PREFERENCE_METRIC_NAMES, LossInputError, PreferenceLogps, preference_loss, preference_values
from .variants import (ANCHOR_PLACEMENTS, VARIANT_NAMES, ObjectiveConfig, ObjectiveConfigError, TermWeights,
                       needs_imageless, objective_config, validate_objective)

__all__ = [
    "ANCHOR_PLACEMENTS", "PREFERENCE_METRIC_NAMES", "VARIANT_NAMES", "LossInputError", "ObjectiveConfig",
    "ObjectiveConfigError", "PreferenceLogps", "TermWeights", "needs_imageless", "objective_config",
    "preference_loss", "preference_values", "validate_objective",
]
