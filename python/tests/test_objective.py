"""The loss against hand-computed values, every variant and anchor placement, and its gradient
against finite differences (docs/objective.md; the same cases as src/core/objective/loss.test.ts)."""
import math

import pytest
import torch

from mdpo_torch.objective import (LossInputError, ObjectiveConfigError, PreferenceLogps, objective_config,
                                  preference_loss, preference_values)

LOG2 = math.log(2)


def nls(x: float) -> float:
    return math.log1p(math.exp(-x))


def lp(pc, pr, rc, rr, pi=None, ri=None, dtype=torch.float64):
    t = lambda v: None if v is None else torch.tensor(v, dtype=dtype)  # noqa: E731
    return PreferenceLogps(t(pc), t(pr), t(rc), t(rr), t(pi), t(ri))


def as_lists(x: PreferenceLogps) -> dict:
    return {k: (None if v is None else v.tolist()) for k, v in vars(x).items()}


@pytest.mark.parametrize("variant,anchor,expected", [
    ("mdpo", "chosen", 3 * LOG2),
    ("mdpo", "chosen+rejected", 4 * LOG2),
    ("mdpo", "chosen+rejected+negative", 5 * LOG2),
    ("dpo", "chosen", LOG2),
    ("mdpo-no-conditional", "chosen", 2 * LOG2),
    ("mdpo-no-anchor", "chosen", 2 * LOG2),
])
def test_at_zero_rewards_each_term_is_log_2(variant, anchor, expected):
    c = objective_config(variant, anchor=anchor)
    x = lp([-5.0, -7.0], [-6.0, -3.0], [-5.0, -7.0], [-6.0, -3.0], [-9.0, -4.0], [-9.0, -4.0])
    loss, _ = preference_loss(x, c)
    assert float(loss) == pytest.approx(expected, abs=1e-12)
    assert preference_values(as_lists(x), c)["loss"] == pytest.approx(expected, abs=1e-12)


def test_hand_computed_pair():
    # r_w = -4 - (-5) = 1, r_l = -8 - (-6) = -2, r_w' = -9 - (-7) = -2; beta 0.5, delta 0.25
    c = objective_config("mdpo", beta=0.5, delta=0.25, anchor="chosen+rejected+imageless")
    x = lp([-4.0], [-8.0], [-5.0], [-6.0], [-9.0], [-7.0])
    dpo, cond = nls(0.5 * 3), nls(0.5 * 3)
    anchor = nls(0.5 * (1 - 0.25)) + nls(0.5 * (0.25 + 2)) + nls(0.5 * (0.25 + 2))
    m = preference_values(as_lists(x), c)
    assert m["loss/dpo"] == pytest.approx(dpo, abs=1e-12)
    assert m["loss/conditional"] == pytest.approx(cond, abs=1e-12)
    assert m["loss/anchor"] == pytest.approx(anchor, abs=1e-12)
    assert m["loss"] == pytest.approx(dpo + cond + anchor, abs=1e-12)
    assert m["rewards/chosen"] == pytest.approx(0.5) and m["rewards/rejected"] == pytest.approx(-1.0)
    assert m["rewards/margins"] == pytest.approx(1.5) and m["rewards/accuracies"] == 1.0
    assert m["rewards/imageless_chosen"] == pytest.approx(-1.0) and m["rewards/imageless_margins"] == pytest.approx(1.5)
    assert m["logps/chosen"] == -4.0 and m["logps/rejected"] == -8.0 and m["logps/imageless_chosen"] == -9.0
    loss, _ = preference_loss(x, c)
    assert float(loss) == pytest.approx(m["loss"], abs=1e-12)


def test_term_weights_scale_only_terms_the_variant_switches_on():
    x = lp([-4.0], [-8.0], [-5.0], [-6.0], [-9.0], [-7.0])
    c = objective_config("dpo", terms={"dpo": 2, "conditional": 5})
    m = preference_values(as_lists(x), c)
    assert m["loss"] == pytest.approx(2 * nls(0.1 * 3), abs=1e-12)
    assert m["loss/conditional"] == pytest.approx(nls(0.1 * 3), abs=1e-12)  # reported, not weighted in


def test_gradient_matches_finite_differences():
    c = objective_config("mdpo", beta=0.7, anchor="chosen+rejected+imageless")
    base = [[-4.0, -2.0], [-8.0, -1.5], [-5.0, -2.5], [-6.0, -1.0], [-9.0, -3.0], [-7.0, -2.0]]
    p = torch.tensor(base[0], dtype=torch.float64, requires_grad=True)
    x = lp(*base)
    x.policy_chosen = p
    loss, _ = preference_loss(x, c)
    (g,) = torch.autograd.grad(loss, p)
    eps = 1e-6
    for i in range(2):
        up, dn = [list(v) for v in base], [list(v) for v in base]
        up[0][i] += eps
        dn[0][i] -= eps
        fd = (float(preference_loss(lp(*up), c)[0]) - float(preference_loss(lp(*dn), c)[0])) / (2 * eps)
        assert float(g[i]) == pytest.approx(fd, abs=1e-8)


def test_softplus_form_is_stable_for_large_margins():
    c = objective_config("dpo", beta=1.0)
    x = lp([0.0], [0.0], [0.0], [5000.0])  # z1 = 5000 -> loss ~ 0; reversed -> loss = 5000
    assert float(preference_loss(x, c)[0]) == pytest.approx(0.0, abs=1e-12)
    y = lp([0.0], [0.0], [5000.0], [0.0])
    assert float(preference_loss(y, c)[0]) == pytest.approx(5000.0)


def test_bad_configs_and_inputs_say_what_is_wrong():
    with pytest.raises(ObjectiveConfigError, match="Unknown variant"):
        objective_config("ipo")
    with pytest.raises(ObjectiveConfigError, match="beta"):
        objective_config("mdpo", beta=0)
    with pytest.raises(ObjectiveConfigError, match="Every term weight is 0"):
        objective_config("dpo", terms={"dpo": 0})
    with pytest.raises(LossInputError, match="needs logp"):
        preference_loss(lp([-1.0], [-1.0], [-1.0], [-1.0]), objective_config("mdpo"))
