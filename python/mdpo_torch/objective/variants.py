"""The objective variants of docs/objective.md as CONFIGURATIONS of one loss (loss.py), as
src/core/objective/variants.ts:

    L = w_dpo * -log σ(β z1) + w_cond * -log σ(β z2) + w_anchor * anchor(placement)

| name                | z1 | z2 | z3 | image in the input |
|---------------------|----|----|----|--------------------|
| dpo                 | 1  | 0  | 0  | yes                |
| mdpo                | 1  | 1  | 1  | yes                |
| mdpo-no-conditional | 1  | 0  | 1  | yes                |
| mdpo-no-anchor      | 1  | 1  | 0  | yes                |
| dpo-no-image        | 1  | 0  | 0  | no (diagnostic)    |
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

VARIANT_NAMES = ("dpo", "mdpo", "mdpo-no-conditional", "mdpo-no-anchor", "dpo-no-image")
ANCHOR_PLACEMENTS = ("chosen", "chosen+rejected", "chosen+rejected+imageless")
DEFAULT_BETA = 0.1
DEFAULT_DELTA = 0.0

_PRESETS = {
    "dpo": ((1, 0, 0), True),
    "mdpo": ((1, 1, 1), True),
    "mdpo-no-conditional": ((1, 0, 1), True),
    "mdpo-no-anchor": ((1, 1, 0), True),
    "dpo-no-image": ((1, 0, 0), False),
}


class ObjectiveConfigError(ValueError):
    pass


@dataclass(frozen=True)
class TermWeights:
    dpo: float
    conditional: float
    anchor: float


@dataclass(frozen=True)
class ObjectiveConfig:
    variant: str
    beta: float
    delta: float
    terms: TermWeights
    use_image: bool
    anchor: str

    def to_json(self) -> dict:
        return asdict(self)


def objective_config(variant: str = "mdpo", *, beta: float | None = None, delta: float | None = None,
                     terms: dict | None = None, anchor: str | None = None) -> ObjectiveConfig:
    """The full configuration of a variant; term weights multiply the variant's on/off switches.
    'chosen+rejected+negative' (src/shared's name) is accepted for 'chosen+rejected+imageless'."""
    if variant not in _PRESETS:
        raise ObjectiveConfigError(f'Unknown variant "{variant}". Expected one of: {", ".join(VARIANT_NAMES)}.')
    (d, c, a), use_image = _PRESETS[variant]
    t = terms or {}
    config = ObjectiveConfig(
        variant=variant,
        beta=DEFAULT_BETA if beta is None else float(beta),
        delta=DEFAULT_DELTA if delta is None else float(delta),
        terms=TermWeights(d * float(t.get("dpo", 1)), c * float(t.get("conditional", 1)), a * float(t.get("anchor", 1))),
        use_image=use_image,
        anchor="chosen+rejected+imageless" if anchor == "chosen+rejected+negative" else (anchor or "chosen"),
    )
    validate_objective(config)
    return config


def validate_objective(c: ObjectiveConfig) -> None:
    if not (math.isfinite(c.beta) and c.beta > 0):
        raise ObjectiveConfigError(f"Expected beta to be a positive number, but got {c.beta}")
    if not math.isfinite(c.delta):
        raise ObjectiveConfigError(f"Expected delta to be a finite number, but got {c.delta}")
    for name, w in asdict(c.terms).items():
        if not (math.isfinite(w) and w >= 0):
            raise ObjectiveConfigError(f"Expected the {name} weight to be a number >= 0, but got {w}")
    if c.terms.dpo + c.terms.conditional + c.terms.anchor == 0:
        raise ObjectiveConfigError("Every term weight is 0: the objective would be constant.")
    if c.anchor not in ANCHOR_PLACEMENTS:
        raise ObjectiveConfigError(f'Unknown anchor placement "{c.anchor}". Expected one of: {", ".join(ANCHOR_PLACEMENTS)}.')
    if not c.use_image and needs_imageless(c):
        raise ObjectiveConfigError(
            "Without the image there is no corrupted image either: a conditional term or an anchor on m' needs the image.")


def needs_imageless(c: ObjectiveConfig) -> bool:
    """Whether the loss needs logp(y_w | m') (the conditional term, or an anchor on m')."""
    return c.terms.conditional != 0 or (c.terms.anchor != 0 and c.anchor == "chosen+rejected+imageless")
