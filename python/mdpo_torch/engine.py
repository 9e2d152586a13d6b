"""Runs one TrainJob (PROTOCOL.md section 3) on the torch engine, as src/main/trainer/engine.ts
does on tfjs: model + processor from the job's folder, pairs from the records and the images
folder, LoRA, the loop, and the final adapter in <runDir>/adapter."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch

from .data import Limits, check_negative_epochs, load_pairs
from .distributed import Parallel, ShardedTask
from .errors import CancelledError, JobError, UnsupportedTaskError
from .fsdp import FsdpPreferenceTask, FsdpStepTask, launch_mode, shard_model
from .models import (LORA_TARGETS_ALL, add_lora, check_folder, device_memory_bytes, dropout_off, estimate_memory,
                     load_config, load_model, load_processor, lora_parameter_estimate, pick_placement, refuse_if_too_big,
                     text_config_of, trainable_parameters)
from .objective import needs_imageless
from .train import LoopHooks, PreferenceTask, epochs_touched, export_adapter, loop_config_from_shared, prepare_pairs, train_preference
from .data import load_image
from .train.fingerprint import (INPUTS_SCHEMA, NEGATIVE_PROBES, FrameHash, base_fingerprint, image_array, js_json,
                                negative_spec, tokenizer_fingerprint)

BUILTIN_BASE = "builtin:world-base"


@dataclass(frozen=True)
class TorchOptions:
    images_dir: Path
    limits: Limits
    precision: str
    device: str
    gradient_checkpointing: bool


def torch_options(config: dict) -> TorchOptions:
    block = config.get("torch")
    if not isinstance(block, dict) or not isinstance(block.get("negativesDir"), str):
        raise JobError("The job's config.torch.negativesDir is missing: the app renders the images (m and m') there before "
                       "starting the torch engine (python/PROTOCOL.md section 3.1).")
    backend = config.get("backend", "auto")
    device = block.get("device") or "auto"
    if device == "auto" and backend in ("cuda", "cpu", "mps"):
        device = backend
    return TorchOptions(
        images_dir=Path(block["negativesDir"]),
        limits=Limits(int(block.get("maxLength", 2048)), int(block.get("maxPromptLength", 1024)),
                      int(block.get("maxAnswerLength", 1024))),
        precision=block.get("precision", "auto"),
        device=device,
        gradient_checkpointing=bool(block.get("gradientCheckpointing", True)),
    )


def run_job(job: dict, hooks: LoopHooks, parallel: Parallel | None = None) -> dict:
    """Trains; returns {'step', 'result'}. Raises CancelledError when the parent cancelled. With `parallel`
    (distributed.py), this process trains its share of each step; only rank 0 writes checkpoints and the adapter."""
    task = (job.get("task") or {"kind": "train"}).get("kind", "train")
    if task != "train":
        raise UnsupportedTaskError(f'The torch engine runs training jobs only; "{task}" runs on the tfjs engine.')
    config = job["config"]
    if config.get("baseModel") == BUILTIN_BASE:
        raise JobError("The built-in world base runs on the tfjs engine; the torch engine trains a Hugging Face checkpoint folder.")
    if not job.get("dataset"):
        raise JobError(f"Run {job.get('runId')} has no dataset (it was deleted); nothing to train on.")
    mode = launch_mode(world=parallel.world if parallel is not None else 1)  # DeepSpeed and FSDP settings refused here
    opts = torch_options(config)
    run_dir = Path(job["runDir"])
    main = parallel is None or parallel.is_main
    cfg = loop_config_from_shared(config, str(run_dir / "checkpoints") if main else None)
    objective = cfg.objective
    with_negatives = needs_imageless(objective)

    # Everything that can be refused is checked before the model is loaded and before any write.
    pairs = load_pairs(job["dataset"]["recordsFile"], opts.images_dir, seed=cfg.seed, negative=config.get("negative") or {},
                       need_negatives=with_negatives, log=hooks.log)
    check_negative_epochs(pairs, epochs_touched(len(pairs), cfg), cfg.negative_fixed_per_pair, with_negatives)
    folder = check_folder(config["baseModel"])
    model_config = load_config(folder)
    processor = load_processor(folder)
    placement = pick_placement(opts.device, opts.precision)
    lora = config.get("lora") or {}
    targets = list(lora.get("targets") or LORA_TARGETS_ALL)
    text = text_config_of(model_config)
    rows = cfg.batch_size * (3 if with_negatives else 2)
    estimate = estimate_memory(folder, text, weight_bytes=2 if placement.autocast else 4,
                               lora_params=lora_parameter_estimate(text, int(lora.get("rank", 64)), targets),
                               rows=rows, tokens=opts.limits.max_length,
                               answer_tokens=opts.limits.max_answer_length, recompute=opts.gradient_checkpointing)
    if mode.fsdp is not None and parallel is not None:  # each process holds 1/N of the frozen weights
        share = estimate.weights // parallel.world
        estimate = replace(estimate, weights=share, total=int((share + estimate.lora + estimate.activations) * 1.1))
    refuse_if_too_big(estimate, device_memory_bytes(placement.device), str(placement.device))
    hooks.log(f"memory estimate: {estimate.describe()}")
    prepared = prepare_pairs(processor, pairs, objective, opts.limits)
    for note in mode.notes:
        hooks.log(note)

    model = load_model(folder, placement.weight_dtype)
    if mode.fsdp is None:
        model.to(placement.device)  # under FSDP, fully_shard moves each shard there (fsdp.shard_model)
    if opts.gradient_checkpointing and getattr(model, "supports_gradient_checkpointing", False):
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model = add_lora(model, rank=int(lora.get("rank", 64)), alpha=float(lora.get("alpha", 128)),
                     dropout=float(lora.get("dropout", 0)), targets=targets, seed=cfg.seed)
    dropout_off(model)
    model.train()
    if mode.fsdp is not None and parallel is not None:
        held = shard_model(model, mode.fsdp, parallel, placement.device)
        hooks.log(f"{mode.fsdp.describe()}: parameter bytes per rank {held[:-1]} of {held[-1]} for the whole model")
    params = trainable_parameters(model)
    task_class = PreferenceTask if mode.fsdp is None else FsdpPreferenceTask
    train_task = task_class(model, processor, prepared, objective, fixed_per_pair=cfg.negative_fixed_per_pair,
                            autocast=placement.autocast, device=placement.device)
    if parallel is not None:
        train_task = (ShardedTask if mode.fsdp is None else FsdpStepTask)(train_task, parallel, [p for _, p in params])
    inputs = input_fingerprints(folder, prepared, config.get("negative") or {}, cfg.negative_fixed_per_pair,
                                placement.device.type)
    extra = {"limits": opts.limits.__dict__, "lora": {"rank": lora.get("rank", 64), "alpha": lora.get("alpha", 128),
                                                      "dropout": lora.get("dropout", 0), "targets": targets},
             "precision": placement.describe()}
    hooks.backend = placement.describe()
    resume = job.get("resumeFrom")
    result = train_preference(model, train_task, params, cfg, hooks, resume_from=resume["path"] if resume else None,
                              inputs=inputs, extra_state=extra)
    if result.status == "aborted":
        raise CancelledError(f"Cancelled by the user at step {result.step}.")
    if main:
        export_adapter(run_dir / "adapter", model)
    return {"step": result.step, "result": {k: v for k, v in (result.metrics or {}).items() if v is not None}}


def input_fingerprints(folder: Path, prepared, negative: dict, fixed: bool, backend: str) -> dict:
    """The inputs record of src/core/train/fingerprint.ts (see train/fingerprint.py)."""
    data = FrameHash()
    for p in prepared:
        data.text(p.pair.id).int32(p.prompt_ids).int32(p.chosen).int32(p.rejected)
        data.float32(image_array(load_image(p.pair.image, what=f"Pair {p.pair.index} ({p.pair.id}) image m")))
    spec = negative_spec(negative)
    neg = FrameHash().text("fixed" if fixed else "per-epoch").text(js_json(spec))
    for p in prepared[:NEGATIVE_PROBES]:
        if p.pair.negatives:
            neg.float32(image_array(load_image(p.pair.negatives[0], what=f"Pair {p.pair.index} ({p.pair.id}) m'")))
    return {
        "schema": INPUTS_SCHEMA,
        "base": base_fingerprint(folder),
        "tokenizer": tokenizer_fingerprint(folder),
        "dataset": {"size": len(prepared), "sha256": data.hex()},
        "negative": {"fixedPerPair": fixed, "spec": spec, "sha256": neg.hex()},
        "engine": {"name": "torch", "version": torch.__version__, "backend": backend},
    }

