"""Learning-rate schedules as transformers' get_*_schedule_with_warmup (src/core/train/schedule.ts).

    warm-up steps = ceil(total x warmupRatio); step < warm-up: lr x step / warm-up
    afterwards: cosine lr x 0.5 (1 + cos(π progress)), linear lr x (1 - progress), constant lr
`step` is the 0-based index of the optimizer step about to be taken.
"""
from __future__ import annotations

import math


def warmup_steps(total_steps: int, warmup_ratio: float) -> int:
    return math.ceil(total_steps * warmup_ratio)


def learning_rate_at(step: int, lr: float, schedule: str, warmup_ratio: float, total_steps: int) -> float:
    warm = warmup_steps(total_steps, warmup_ratio)
    if step < warm:
        return lr * step / max(1, warm)
    if schedule == "constant":
        return lr
    progress = min(1.0, (step - warm) / max(1, total_steps - warm))
    if schedule == "linear":
        return lr * max(0.0, 1 - progress)
    return lr * max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))
