"""Learning rates as transformers' schedules with warm-up (src/core/train/schedule.ts)."""
import math

import pytest

from mdpo_torch.train import learning_rate_at, warmup_steps


def test_warmup_then_cosine():
    assert warmup_steps(30, 0.1) == 3
    lrs = [learning_rate_at(s, 1e-5, "cosine", 0.1, 30) for s in range(30)]
    assert lrs[:4] == pytest.approx([0, 1e-5 / 3, 2e-5 / 3, 1e-5])
    assert lrs[3 + 27 // 2] == pytest.approx(1e-5 * 0.5 * (1 + math.cos(math.pi * 13 / 27)))
    assert learning_rate_at(30, 1e-5, "cosine", 0.1, 30) == pytest.approx(0)


def test_linear_and_constant():
    assert learning_rate_at(5, 1.0, "linear", 0.0, 10) == pytest.approx(0.5)
    assert learning_rate_at(7, 2.0, "constant", 0.5, 10) == 2.0
