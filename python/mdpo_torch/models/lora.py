"""LoRA with PEFT on the language model's linear layers only (not the vision tower, not the
connector, not lm_head), as docs/objective.md and the app's adapter export (src/core/hf/adapter.ts) do.

target_modules is a full-match regex over module names (PEFT re.fullmatch-es a string), built
from the model's own module tree: `<language model>.<...>.(q_proj|...|down_proj)` with layer
numbers generalised to \\d+.
"""
from __future__ import annotations

import re

import torch
from torch import nn

from ..rng import Rng

LORA_TARGETS_ALL = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def language_model_prefix(model: nn.Module) -> str:
    """The qualified name of the language model inside a VLM."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    names = {id(m): n for n, m in model.named_modules()}
    if decoder is not None and id(decoder) in names and names[id(decoder)]:
        return names[id(decoder)]
    for candidate in ("model.language_model", "model.text_model", "language_model.model", "language_model"):
        if candidate in dict(model.named_modules()):
            return candidate
    raise ValueError(f"Cannot find the language model inside {type(model).__name__}")


def target_regex(model: nn.Module, targets: list[str] | tuple[str, ...]) -> str:
    prefix = language_model_prefix(model)
    patterns: list[str] = []
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear) or not name.startswith(prefix + "."):
            continue
        if name.rsplit(".", 1)[-1] not in targets:
            continue
        pattern = re.sub(r"\\\.\d+\\\.", r"\\.\\d+\\.", re.escape(name))
        if pattern not in patterns:
            patterns.append(pattern)
    if not patterns:
        raise ValueError(f"None of the LoRA targets {list(targets)} is a linear layer of the language model ({prefix})")
    return patterns[0] if len(patterns) == 1 else "(?:" + "|".join(patterns) + ")"


def add_lora(model: nn.Module, *, rank: int, alpha: float, dropout: float, targets: list[str], seed: int):
    """Wraps the model with PEFT LoRA adapters (PEFT's own init: Kaiming-uniform A, zero B), seeded."""
    from peft import LoraConfig, get_peft_model

    for p in model.parameters():
        p.requires_grad_(False)
    regex = target_regex(model, targets or LORA_TARGETS_ALL)
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, target_modules=regex, bias="none",
                        init_lora_weights=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(Rng.derive(seed, "lora/init").next_uint32())
        peft_model = get_peft_model(model, config, autocast_adapter_dtype=True)
    for n, p in peft_model.named_parameters():
        if "lora_" in n:
            p.data = p.data.float()  # adapters train in float32 whatever the base's dtype
    return peft_model


def trainable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def dropout_off(model: nn.Module) -> None:
    """docs/objective.md: dropout off during preference training, except LoRA's own (config.lora.dropout)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout) and "lora_dropout" not in name:
            module.p = 0.0
        for attr in ("attention_dropout", "dropout"):
            if isinstance(getattr(module, attr, None), float) and "lora" not in name:
                setattr(module, attr, 0.0)
