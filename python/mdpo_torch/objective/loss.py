"""The DPO / mDPO loss as a pure function of sequence log-probs (docs/objective.md#the-objective),
the same formulas as src/core/objective/loss.ts:

    r(y | m) = logp_policy(y | m, q) - logp_ref(y | m, q)      implicit reward, before β
    z1 = r(y_w | m) - r(y_l | m)                                standard DPO
    z2 = r(y_w | m) - r(y_w | m')                               conditional preference
    z3 = r(y_w | m) - δ                                         anchor
    L  = w_dpo·softplus(-β z1) + w_cond·softplus(-β z2) + w_anchor·anchor     (mean over pairs)

-log σ(x) is computed as softplus(-x). Anchor placements (paper table 4):
    'chosen'                     softplus(-β (r(y_w|m) - δ))
    'chosen+rejected'            + softplus(-β (δ - r(y_l|m)))
    'chosen+rejected+imageless'  + softplus(-β (δ - r(y_w|m')))

`preference_loss` is differentiable (tensors in, scalar out); `preference_values` computes the
same in float64 with every docs/objective.md metric, for reporting.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .variants import ObjectiveConfig, needs_imageless

PREFERENCE_METRIC_NAMES = (
    "loss", "loss/dpo", "loss/conditional", "loss/anchor",
    "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies",
    "logps/chosen", "logps/rejected",
    "rewards/imageless_chosen", "rewards/imageless_margins", "rewards/imageless_accuracies",
    "logps/imageless_chosen",
)


class LossInputError(ValueError):
    pass


@dataclass
class PreferenceLogps:
    """Per-pair summed answer log-probs, each [B]. The reference ones carry no gradient."""
    policy_chosen: torch.Tensor
    policy_rejected: torch.Tensor
    ref_chosen: torch.Tensor
    ref_rejected: torch.Tensor
    policy_imageless: torch.Tensor | None = None
    ref_imageless: torch.Tensor | None = None


def _imageless(lp: PreferenceLogps, c: ObjectiveConfig):
    if lp.policy_imageless is None or lp.ref_imageless is None:
        raise LossInputError(f"The {c.variant} objective needs logp(y_w | m') for the policy and the reference, but they were not given")
    return lp.policy_imageless, lp.ref_imageless


def _mean_nls(x: torch.Tensor) -> torch.Tensor:
    """mean over pairs of -log σ(x) = softplus(-x). x: [B] -> []"""
    return F.softplus(-x).mean()


def preference_loss(lp: PreferenceLogps, c: ObjectiveConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The batch loss (mean over pairs) and each weighted-in term (unweighted values)."""
    beta, delta, w = c.beta, c.delta, c.terms
    r_chosen = lp.policy_chosen - lp.ref_chosen  # [B]
    r_rejected = lp.policy_rejected - lp.ref_rejected  # [B]
    r_imageless = None
    if needs_imageless(c):
        p, r = _imageless(lp, c)
        r_imageless = p - r  # [B]
    terms: dict[str, torch.Tensor] = {}
    loss = torch.zeros((), dtype=r_chosen.dtype, device=r_chosen.device)
    if w.dpo != 0:
        terms["dpo"] = _mean_nls(beta * (r_chosen - r_rejected))  # β z1
        loss = loss + w.dpo * terms["dpo"]
    if w.conditional != 0 and r_imageless is not None:
        terms["conditional"] = _mean_nls(beta * (r_chosen - r_imageless))  # β z2
        loss = loss + w.conditional * terms["conditional"]
    if w.anchor != 0:
        anchor = _mean_nls(beta * (r_chosen - delta))  # β z3
        if c.anchor != "chosen":
            anchor = anchor + _mean_nls(beta * (delta - r_rejected))
        if c.anchor == "chosen+rejected+imageless" and r_imageless is not None:
            anchor = anchor + _mean_nls(beta * (delta - r_imageless))
        terms["anchor"] = anchor
        loss = loss + w.anchor * anchor
    return loss, terms


def preference_values(lp: dict[str, list[float]], c: ObjectiveConfig) -> dict[str, float]:
    """The same loss in float64 on plain numbers, with every metric of docs/objective.md. Terms and
    imageless metrics are reported whenever their inputs are given, even at weight 0 (as the
    tfjs engine does); `loss` counts only the weighted-in terms. Rewards are times β."""
    t = {k: torch.tensor(v, dtype=torch.float64) for k, v in lp.items() if v is not None and len(v) > 0}
    n = len(lp["policy_chosen"])
    if n == 0:
        raise LossInputError("Expected at least one pair, but got 0")
    for k, v in t.items():
        if v.numel() != n:
            raise LossInputError(f"Expected {k} to have {n} values (one per pair), but got {v.numel()}")
    beta, delta, w = c.beta, c.delta, c.terms
    has_imageless = "policy_imageless" in t and "ref_imageless" in t
    if needs_imageless(c) and not has_imageless:
        raise LossInputError(f"The {c.variant} objective needs logp(y_w | m') for the policy and the reference, but they were not given")
    rw = t["policy_chosen"] - t["ref_chosen"]
    rl = t["policy_rejected"] - t["ref_rejected"]
    nls = lambda x: float(F.softplus(-x).mean())  # noqa: E731
    m: dict[str, float] = {}
    dpo = nls(beta * (rw - rl))
    cond = None
    anchor = nls(beta * (rw - delta))
    if c.anchor != "chosen":
        anchor += nls(beta * (delta - rl))
    if has_imageless:
        rwm = t["policy_imageless"] - t["ref_imageless"]
        cond = nls(beta * (rw - rwm))
    if c.anchor == "chosen+rejected+imageless":
        anchor = anchor + nls(beta * (delta - rwm)) if has_imageless else None
    loss = w.dpo * dpo
    if w.conditional != 0:
        loss += w.conditional * cond
    if w.anchor != 0:
        loss += w.anchor * anchor
    m["loss"] = loss
    m["loss/dpo"] = dpo
    if cond is not None:
        m["loss/conditional"] = cond
    if anchor is not None:
        m["loss/anchor"] = anchor
    m["rewards/chosen"] = float((beta * rw).mean())
    m["rewards/rejected"] = float((beta * rl).mean())
    m["rewards/margins"] = float((beta * (rw - rl)).mean())
    m["rewards/accuracies"] = float((rw > rl).double().mean())
    m["logps/chosen"] = float(t["policy_chosen"].mean())
    m["logps/rejected"] = float(t["policy_rejected"].mean())
    if has_imageless:
        m["rewards/imageless_chosen"] = float((beta * rwm).mean())
        m["rewards/imageless_margins"] = float((beta * (rw - rwm)).mean())
        m["rewards/imageless_accuracies"] = float((rw - rwm > 0).double().mean())
        m["logps/imageless_chosen"] = float(t["policy_imageless"].mean())
    return m
