"""The training loop (nanoGPT style: read it top to bottom), as src/core/train/loop.ts.

  for each optimizer step:
    before_step (pause) / stop on cancel (checkpoint first)
    take the next batchSize x gradAccum pairs of this epoch's seeded order
    for each micro-batch: loss x its share, backward (gradients sum to one big batch's mean)
    stop on NaN/Inf in the loss or a gradient (nothing applied; the last checkpoint stays the last good one)
    grad_norm (before clipping) -> clip -> AdamW with the scheduled learning rate
    report metrics; checkpoint every `checkpoint_every` steps and at the end

Everything random is a pure function of the seed: the order of epoch e is
Rng.derive(seed, 'order/e') (the tfjs engine's generator), m' was rendered per (seed, pair[, epoch]),
LoRA dropout draws from torch's generator whose state is checkpointed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch

from ..errors import CancelledError, CheckpointError, OutOfMemoryError, TrainingDivergedError
from ..rng import Rng
from .fingerprint import compare_inputs, reference_scope
from .checkpoint import STATE_FORMAT, STATE_VERSION, load_checkpoint, save_checkpoint
from .config import LoopConfig, incompatible_changes, total_steps_for
from .ref_cache import RefCache
from .schedule import learning_rate_at, warmup_steps
from .task import PreferenceTask

GIB = 1024**3


@dataclass
class LoopHooks:
    on_start: Callable[[int, int], None] = lambda total, start: None
    before_step: Callable[[int], None] = lambda step: None
    cancelled: Callable[[], bool] = lambda: False
    on_step: Callable[[dict], None] = lambda info: None
    on_checkpoint: Callable[[int, str], None] = lambda step, path: None
    log: Callable[[str], None] = lambda message: None
    #: Set by the engine before on_start: "torch <device> (<dtype>)" for the started message.
    backend: str = "torch"


@dataclass
class TrainResult:
    status: str  # 'completed' | 'aborted'
    step: int
    total_steps: int
    metrics: dict | None
    checkpoint: str | None
    extra: dict = field(default_factory=dict)


def epoch_order(size: int, epoch: int, cfg: LoopConfig) -> list[int]:
    order = list(range(size))
    return Rng.derive(cfg.seed, f"order/{epoch}").shuffle(order) if cfg.shuffle else order


def _oom_message(step: int, device: torch.device, checkpoint: str | None, cfg: LoopConfig) -> str:
    numbers = ""
    if device.type == "cuda":
        total = torch.cuda.get_device_properties(device).total_memory
        numbers = (f" (allocated {torch.cuda.memory_allocated(device) / GIB:.2f} GiB, reserved "
                   f"{torch.cuda.memory_reserved(device) / GIB:.2f} GiB, peak {torch.cuda.max_memory_allocated(device) / GIB:.2f} GiB "
                   f"of {total / GIB:.2f} GiB)")
    kept = f"The checkpoint {checkpoint} is kept; resume from it after the change." if checkpoint else "No checkpoint was written before it."
    return (f"Out of memory on {device} at step {step + 1}{numbers}. Lower batchSize (now {cfg.batch_size}; raise gradAccum "
            f"to keep the effective batch), lower maxLength, keep gradientCheckpointing on, or use bf16. {kept}")


def train_preference(model, task: PreferenceTask, params: list[tuple[str, torch.nn.Parameter]], cfg: LoopConfig,
                     hooks: LoopHooks, *, resume_from: str | None = None, inputs: dict | None = None,
                     extra_state: dict | None = None) -> TrainResult:
    names = [n for n, _ in params]
    tensors = [p for _, p in params]
    per_step = cfg.batch_size * cfg.grad_accum
    total = total_steps_for(task.size, cfg)
    decay = [p for p in tensors if p.dim() >= 2]
    no_decay = [p for p in tensors if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps,
                                  foreach=False)
    device = tensors[0].device
    scope = reference_scope(inputs) if inputs is not None else ""
    task.cache = RefCache.from_saved(None, scope)
    step, epoch, position = 0, 0, 0
    metrics: dict | None = None
    last_checkpoint: str | None = None
    saved_at = -1

    def save() -> None:
        nonlocal last_checkpoint, saved_at
        if not cfg.checkpoint_dir or saved_at == step:
            return
        state = {
            "format": STATE_FORMAT, "version": STATE_VERSION, "engine": "torch", "kind": "preference",
            "step": step, "epoch": epoch, "position": position, "rng": None, "config": cfg.to_json(),
            "variableNames": names, "refCache": task.cache.export(), "metrics": metrics,
            "scheduler": {"name": cfg.schedule, "totalSteps": total, "warmupSteps": warmup_steps(total, cfg.warmup_ratio),
                          "peakLr": cfg.learning_rate},
            "inputs": inputs, **(extra_state or {}),
            "savedAt": datetime.now(timezone.utc).isoformat(),
        }
        folder = save_checkpoint(Path(cfg.checkpoint_dir), model=model, optimizer=optimizer, params=params, state=state,
                                 keep_last=cfg.keep_checkpoints)
        last_checkpoint, saved_at = str(folder), step
        hooks.on_checkpoint(step, str(folder))

    if resume_from:
        ck = load_checkpoint(resume_from)
        changed = incompatible_changes(ck.state.get("config") or {}, cfg)
        if changed:
            raise CheckpointError(f"Cannot resume from {ck.folder}: the config differs from the checkpoint's in {', '.join(changed)}")
        if ck.state.get("variableNames") != names:
            raise CheckpointError(f"Cannot resume from {ck.folder}: its trainable parameters differ from the model's "
                                  f"({len(ck.state.get('variableNames') or [])} vs {len(names)})")
        if inputs is not None:
            changed_inputs, notes = compare_inputs(ck.state.get("inputs"), inputs)
            if changed_inputs:
                raise CheckpointError(f"Cannot resume from {ck.folder}: what it was trained on changed since the checkpoint: "
                                      f"{'; '.join(changed_inputs)}. Its reference log-probs and progress belong to the old "
                                      "inputs: restore them, or start a new run.")
            for note in notes:
                hooks.log(note)
        _restore(model, optimizer, params, ck)
        task.cache = RefCache.from_saved(ck.state.get("refCache"), scope)
        step, epoch, position = ck.state["step"], ck.state["epoch"], ck.state["position"]
        metrics = ck.state.get("metrics")
        saved_at = step
        last_checkpoint = str(ck.folder)

    hooks.on_start(total, step)
    order = epoch_order(task.size, epoch, cfg)
    session_start, session_first = time.perf_counter(), step
    while step < total:
        hooks.before_step(step)
        if hooks.cancelled():
            save()
            return TrainResult("aborted", step, total, metrics, last_checkpoint)
        if position >= task.size:
            epoch, position = epoch + 1, 0
            order = epoch_order(task.size, epoch, cfg)
        t0 = time.perf_counter()
        indices = order[position:position + per_step]
        task.begin_step(len(indices))
        optimizer.zero_grad(set_to_none=True)
        loss, tokens = 0.0, 0
        try:
            for k in range(0, len(indices), cfg.batch_size):
                share, n = task.micro_batch(indices[k:k + cfg.batch_size], epoch)
                loss += share
                tokens += n
        except torch.OutOfMemoryError:
            optimizer.zero_grad(set_to_none=True)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            save()
            raise OutOfMemoryError(_oom_message(step, device, last_checkpoint, cfg)) from None
        if not math.isfinite(loss):
            raise TrainingDivergedError(_diverged(step + 1, "loss", loss, last_checkpoint))
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in tensors]
        grad_norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads])))
        if not math.isfinite(grad_norm):
            bad = next((names[i] for i, g in enumerate(grads) if not torch.isfinite(g).all()), "a parameter")
            raise TrainingDivergedError(_diverged(step + 1, f"gradient of {bad}", grad_norm, last_checkpoint))
        if cfg.max_grad_norm > 0:
            coef = cfg.max_grad_norm / (grad_norm + 1e-6)
            if coef < 1:
                for g in grads:
                    g.mul_(coef)
        lr = learning_rate_at(step, cfg.learning_rate, cfg.schedule, cfg.warmup_ratio, total)
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.step()
        step += 1
        position += len(indices)
        metrics = {**task.step_metrics(), "grad_norm": grad_norm, "learning_rate": lr}
        now = time.perf_counter()
        seconds = max(now - t0, 1e-9)
        hooks.on_step({
            "step": step, "totalSteps": total, "epoch": epoch + position / task.size, "metrics": metrics,
            "pairs": len(indices), "tokens": tokens, "pairsPerSec": len(indices) / seconds, "tokensPerSec": tokens / seconds,
            "elapsedMs": (now - session_start) * 1000, "etaMs": (now - session_start) / (step - session_first) * (total - step) * 1000,
        })
        if (cfg.checkpoint_every > 0 and step % cfg.checkpoint_every == 0) or step == total:
            save()
    return TrainResult("completed", step, total, metrics, last_checkpoint)


def _diverged(step: int, quantity: str, value: float, checkpoint: str | None) -> str:
    kept = f"The last good checkpoint is {checkpoint}." if checkpoint else "No checkpoint was written before it."
    return f"Training diverged at step {step}: {quantity} is {value}. {kept} Try a lower learning rate or a smaller beta."


def _restore(model, optimizer: torch.optim.Optimizer, params, ck) -> None:
    from peft import set_peft_model_state_dict

    result = set_peft_model_state_dict(model, ck.adapter)
    unexpected = getattr(result, "unexpected_keys", None) or []
    if unexpected:
        raise CheckpointError(f"{ck.folder}: the adapter holds weights the model does not have: {unexpected[:3]}")
    for n, p in params:
        a, b = ck.moments.get(f"{n}.exp_avg"), ck.moments.get(f"{n}.exp_avg_sq")
        if ck.optimizer_step == 0:
            continue
        if a is None or b is None:
            raise CheckpointError(f"{ck.folder}/optimizer.safetensors lacks {n}")
        optimizer.state[p] = {"step": torch.tensor(float(ck.optimizer_step)), "exp_avg": a.to(p.device, p.dtype).clone(),
                              "exp_avg_sq": b.to(p.device, p.dtype).clone()}
    torch.set_rng_state(ck.rng["cpu"])
    if torch.cuda.is_available():
        states = [ck.rng[k] for k in sorted(ck.rng) if k.startswith("cuda")]
        if states:
            torch.cuda.set_rng_state_all(states)
