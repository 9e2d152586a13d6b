"""The loop's configuration resolved from src/shared's TrainConfig (src/core/train/config.ts and
from-shared.ts). Saved with every checkpoint; a resume refuses a config that would change the numbers."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

from ..errors import JobError
from ..objective import ObjectiveConfig, objective_config

SCHEDULE_NAMES = ("cosine", "linear", "constant")
REAL_MODEL_DEFAULT_LR = 1e-5
#: Fields that may differ between a run and its resumption (they do not change the numbers).
RESUMABLE_CHANGES = ("checkpoint_dir", "checkpoint_every", "keep_checkpoints")


@dataclass(frozen=True)
class LoopConfig:
    objective: ObjectiveConfig
    learning_rate: float = REAL_MODEL_DEFAULT_LR
    schedule: str = "cosine"
    warmup_ratio: float = 0.1
    epochs: int = 3
    batch_size: int = 4
    grad_accum: int = 8
    max_grad_norm: float = 1.0
    weight_decay: float = 0.05
    adam_beta1: float = 0.9
    adam_beta2: float = 0.98
    adam_eps: float = 1e-8
    seed: int = 0
    shuffle: bool = True
    negative_fixed_per_pair: bool = True
    max_steps: int | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int = 25
    keep_checkpoints: int = 3

    def to_json(self) -> dict:
        return asdict(self)


def _positive_int(name: str, v) -> None:
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise JobError(f"Expected {name} to be a positive integer, but got {v!r}")


def loop_config_from_shared(tc: dict, checkpoint_dir: str | None) -> LoopConfig:
    """TrainConfig (every default filled in by the app) -> LoopConfig, with plain errors."""
    try:
        objective = objective_config(tc.get("variant", "mdpo"), beta=tc.get("beta"), delta=tc.get("delta"),
                                     terms=tc.get("weights"), anchor=tc.get("anchor"))
    except ValueError as e:
        raise JobError(str(e)) from None
    lr = tc.get("learningRate")
    c = LoopConfig(
        objective=objective,
        learning_rate=REAL_MODEL_DEFAULT_LR if lr is None else float(lr),
        schedule=tc.get("schedule", "cosine"),
        warmup_ratio=float(tc.get("warmupRatio", 0.1)),
        epochs=tc.get("epochs", 3),
        batch_size=tc.get("batchSize", 4),
        grad_accum=tc.get("gradAccum", 8),
        max_grad_norm=float(tc.get("maxGradNorm", 1.0)),
        weight_decay=float(tc.get("weightDecay", 0.05)),
        adam_beta2=float(tc.get("adamBeta2", 0.98)),
        seed=int(tc.get("seed", 0)),
        negative_fixed_per_pair=bool((tc.get("negative") or {}).get("fixedPerPair", True)),
        max_steps=tc.get("maxSteps"),
        checkpoint_dir=checkpoint_dir,
        checkpoint_every=tc.get("checkpointEvery", 25),
    )
    for name in ("epochs", "batch_size", "grad_accum"):
        _positive_int(name, getattr(c, name))
    if c.max_steps is not None:
        _positive_int("max_steps", c.max_steps)
    if not (0 < c.learning_rate <= 1):
        raise JobError(f"Expected learningRate to be in (0, 1], but got {c.learning_rate}")
    if c.schedule not in SCHEDULE_NAMES:
        raise JobError(f'Unknown schedule "{c.schedule}". Expected one of: {", ".join(SCHEDULE_NAMES)}.')
    if not (0 <= c.warmup_ratio <= 1) or not (0 <= c.weight_decay <= 1) or not (0 <= c.adam_beta2 < 1):
        raise JobError("Expected warmupRatio and weightDecay in [0, 1] and adamBeta2 in [0, 1)")
    if not (math.isfinite(c.max_grad_norm) and c.max_grad_norm >= 0):
        raise JobError(f"Expected maxGradNorm >= 0, but got {c.max_grad_norm}")
    if not isinstance(c.checkpoint_every, int) or c.checkpoint_every < 0:
        raise JobError(f"Expected checkpointEvery to be an integer >= 0, but got {c.checkpoint_every!r}")
    return c


def incompatible_changes(saved: dict, now: LoopConfig) -> list[str]:
    """Names of the fields whose change would make a resumed run diverge from the original."""
    current = now.to_json()
    canon = lambda v: json.dumps(v, sort_keys=True)  # noqa: E731
    return [k for k in current if k not in RESUMABLE_CHANGES and canon(saved.get(k)) != canon(current[k])]


def total_steps_for(size: int, c: LoopConfig) -> int:
    """Optimizer steps: epochs x ceil(size / (batchSize x gradAccum)), or maxSteps."""
    return c.max_steps if c.max_steps is not None else c.epochs * math.ceil(size / (c.batch_size * c.grad_accum))


def epochs_touched(size: int, c: LoopConfig) -> int:
    """How many epochs' worth of m' a run needs when m' is drawn per epoch (PROTOCOL.md 3.1)."""
    return math.ceil(total_steps_for(size, c) * c.batch_size * c.grad_accum / size)
