#!/usr/bin/env python3
"""One implementation of `npm run bench -- --hf` (bench/torch-compare.ts) on a tiny HF checkpoint.

Usage: trl_compare.py <exchange dir> <impl: trl|authors|torch> <variant: dpo|mdpo>

The exchange dir holds job.json: the torch engine's TrainJob (PROTOCOL.md section 3) with the
records, the images folder the app rendered (m and m') and the settings. Every implementation
sees the same pairs laid out by the torch engine's own data code (chat template, answer tokens +
end token), the same LoRA init (mdpo_torch.models.add_lora with the run's seed) and the same
optimizer settings, so their step-1 numbers must agree before any timing is believed:

  trl      TRL's DPOTrainer (the real library) on the PeftModel; reference = adapters disabled,
           run live every step (precompute_ref_log_probs=False). Only the data collator is ours
           (it hands TRL our exact token layout), everything from the forward on is TRL's.
  authors  mDPO as the authors' code does it (TRL 0.7.2 style, bench/peer.py on the HF model):
           reference forward every step under no_grad with adapters disabled, one forward over
           [y_w; y_l] with logits at every position, a separate forward for y_w | m'.
  torch    our torch engine (mdpo_torch.engine.run_job, unchanged): reference cached per pair,
           one forward over [y_w|m; y_l|m; y_w|m'], logits only from the first answer position.

Writes <impl>-<variant>.json: per-step wall and CPU ms, step losses and log-probs, peak RSS.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from mdpo_torch.data import Limits, Row, build_batch, load_image, load_pairs  # noqa: E402
from mdpo_torch.engine import torch_options  # noqa: E402
from mdpo_torch.models import LORA_TARGETS_ALL, add_lora, dropout_off, load_model, load_processor, trainable_parameters  # noqa: E402
from mdpo_torch.objective import needs_imageless  # noqa: E402
from mdpo_torch.train import loop_config_from_shared, prepare_pairs  # noqa: E402


class Clock:
    """Per-step wall and process-CPU milliseconds."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self._t = self._c = 0.0

    def start(self) -> None:
        self._t, self._c = time.perf_counter(), time.process_time()

    def stop(self) -> None:
        self.wall.append((time.perf_counter() - self._t) * 1000)
        self.cpu.append((time.process_time() - self._c) * 1000)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def setup(job: dict):
    """Model + LoRA + prepared pairs exactly as the torch engine builds them (engine.run_job)."""
    config = job["config"]
    opts = torch_options(config)
    cfg = loop_config_from_shared(config, None)
    pairs = load_pairs(job["dataset"]["recordsFile"], opts.images_dir, seed=cfg.seed, negative=config.get("negative") or {},
                       need_negatives=needs_imageless(cfg.objective))
    folder = Path(config["baseModel"])
    processor = load_processor(folder)
    prepared = prepare_pairs(processor, pairs, cfg.objective, opts.limits)
    model = load_model(folder, torch.float32)
    lora = config["lora"]
    model = add_lora(model, rank=int(lora["rank"]), alpha=float(lora["alpha"]), dropout=float(lora.get("dropout", 0)),
                     targets=list(lora.get("targets") or LORA_TARGETS_ALL), seed=cfg.seed)
    dropout_off(model)
    model.train()
    tok = processor.tokenizer
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
    return cfg, processor, prepared, model, pad_id


def rows_of(prepared, answer: str, negative: bool = False) -> list[Row]:
    out = []
    for p in prepared:
        image = load_image(p.pair.negatives[0] if negative else p.pair.image, what=f"pair {p.pair.id}")
        out.append(Row(p.prompt_text, image, getattr(p, answer)))
    return out


# ----------------------------------------------------------------------------- TRL's DPOTrainer
def run_trl(job: dict, steps: int) -> dict:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    cfg, processor, prepared, model, pad_id = setup(job)
    if cfg.objective.terms.conditional != 0:
        raise SystemExit("trl: TRL's DPOTrainer has no mDPO loss; run it with the dpo variant")
    by_index = {i: p for i, p in enumerate(prepared)}

    def collate(examples: list[dict]) -> dict:
        # Our layout (same tokens as the torch engine); the keys TRL's _compute_loss reads.
        chosen = [by_index[e["index"]] for e in examples]
        batch = build_batch(processor, rows_of(chosen, "chosen") + rows_of(chosen, "rejected"), pad_id)
        return {**batch.inputs, "completion_mask": batch.answer_mask.long()}

    # "images" marks the dataset as a vision one for TRL (no text tokenization up front); our collator builds the batch.
    data = Dataset.from_list([{"index": i, "images": [str(p.pair.image)], "prompt": "", "chosen": "", "rejected": ""}
                              for i, p in by_index.items()])
    args = DPOConfig(
        output_dir=str(Path(job["runDir"]) / "trl"), per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum, max_steps=steps, learning_rate=cfg.learning_rate,
        lr_scheduler_type="constant", warmup_steps=0, weight_decay=cfg.weight_decay, adam_beta1=cfg.adam_beta1,
        adam_beta2=cfg.adam_beta2, adam_epsilon=cfg.adam_eps, max_grad_norm=cfg.max_grad_norm, beta=cfg.objective.beta,
        loss_type=["sigmoid"], precompute_ref_log_probs=False, gradient_checkpointing=False, bf16=False, fp16=False,
        use_cpu=True, report_to=[], logging_steps=1, save_strategy="no", remove_unused_columns=False, seed=cfg.seed,
        dataloader_num_workers=0, disable_tqdm=True, max_length=None,
    )
    clock = Clock()
    logs: list[dict] = []

    class Timing(TrainerCallback):
        def on_step_begin(self, *a, **k):
            clock.start()

        def on_step_end(self, *a, **k):
            clock.stop()

        def on_log(self, _args, _state, _control, logs=None, **k):
            if logs and "loss" in logs:
                entries.append(dict(logs))

    entries = logs
    trainer = DPOTrainer(model=model, args=args, train_dataset=data, processing_class=processor, data_collator=collate,
                         callbacks=[Timing()])
    trainer.train()
    return {"stepMs": clock.wall, "cpuMs": clock.cpu,
            "losses": [e["loss"] for e in logs],
            "logps": [{"chosen": e.get("logps/chosen"), "rejected": e.get("logps/rejected")} for e in logs]}


# ----------------------------------------------------------------------------- the authors' way
def full_logps(model, batch) -> torch.Tensor:
    """Logits at EVERY position (no logits_to_keep), log_softmax over the vocabulary, summed at the answer."""
    logits = model(**batch.inputs, use_cache=False).logits[:, :-1]  # [R, L-1, V]
    targets = batch.inputs["input_ids"][:, 1:]
    per_token = torch.gather(logits.log_softmax(-1), 2, targets.unsqueeze(2)).squeeze(2)  # [R, L-1]
    return (per_token * batch.answer_mask[:, 1:]).sum(-1)  # [R]


def run_authors(job: dict, steps: int) -> dict:
    cfg, processor, prepared, model, pad_id = setup(job)
    o = cfg.objective
    conditional = o.terms.conditional
    anchor = o.terms.anchor
    b = len(prepared)
    if b != cfg.batch_size * cfg.grad_accum:
        raise SystemExit("authors: the comparison uses one micro-batch holding every pair")
    cr = build_batch(processor, rows_of(prepared, "chosen") + rows_of(prepared, "rejected"), pad_id)
    neg = build_batch(processor, rows_of(prepared, "chosen", negative=True), pad_id) if conditional else None
    params = [p for _, p in trainable_parameters(model)]
    opt = torch.optim.AdamW(params, lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2), eps=cfg.adam_eps,
                            weight_decay=cfg.weight_decay)

    def forward():
        both = full_logps(model, cr)  # [2b]
        return both[:b], both[b:], full_logps(model, neg) if neg is not None else None

    clock, losses, logps = Clock(), [], []
    for _ in range(steps):
        clock.start()
        with torch.no_grad(), model.disable_adapter():
            ref = forward()  # every step, as the authors' trainer does
        pol = forward()
        r_w, r_l = pol[0] - ref[0], pol[1] - ref[1]
        loss = o.terms.dpo * -F.logsigmoid(o.beta * (r_w - r_l)).mean()
        if neg is not None:
            loss = loss + conditional * -F.logsigmoid(o.beta * (r_w - (pol[2] - ref[2]))).mean()
        if anchor:
            loss = loss + anchor * -F.logsigmoid(o.beta * (r_w - o.delta)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        clock.stop()
        losses.append(float(loss))
        logps.append({"chosen": float(pol[0].mean()), "rejected": float(pol[1].mean()),
                      "imageless": float(pol[2].mean()) if pol[2] is not None else None})
    return {"stepMs": clock.wall, "cpuMs": clock.cpu, "losses": losses, "logps": logps}


# ----------------------------------------------------------------------------- our torch engine
def run_torch(job: dict, steps: int) -> dict:
    from mdpo_torch.engine import run_job
    from mdpo_torch.train import LoopHooks

    job = {**job, "config": {**job["config"], "maxSteps": steps}}
    clock, losses, logps = Clock(), [], []
    hooks = LoopHooks()
    hooks.before_step = lambda step: clock.start()

    def on_step(info: dict) -> None:
        clock.stop()
        m = info["metrics"]
        losses.append(m["loss"])
        logps.append({"chosen": m.get("logps/chosen"), "rejected": m.get("logps/rejected"),
                      "imageless": m.get("logps/imageless_chosen")})

    hooks.on_step = on_step
    run_job(job, hooks)
    return {"stepMs": clock.wall, "cpuMs": clock.cpu, "losses": losses, "logps": logps}


def main() -> None:
    exchange, impl, variant = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    spec = json.loads((exchange / "job.json").read_text())
    job = spec["jobs"][variant]
    job = {**job, "runDir": str(exchange / f"run-{impl}-{variant}")}
    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(0)
    steps = int(spec["steps"])
    result = {"trl": run_trl, "authors": run_authors, "torch": run_torch}[impl](job, steps)
    result.update({"impl": impl, "variant": variant, "peakRssBytes": peak_rss_bytes(), "torch": torch.__version__,
                   "threads": torch.get_num_threads()})
    if impl == "trl":
        import trl

        result["trl"] = trl.__version__
    (exchange / f"{impl}-{variant}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
