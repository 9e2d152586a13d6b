"""The memory estimate made BEFORE loading a model, from the safetensors headers alone.

    weights      = parameters x bytes of the weight dtype (bf16: 2, fp32: 4)
    lora         = LoRA parameters x 16 (fp32 weight, gradient, AdamW m and v)
    activations  = rows x tokens x hidden x layers x bytes x k   (k = 2 with recomputation, 34 without,
                   the per-layer saved tensors of a transformer block)
                 + rows x answer x vocab x (bytes + 4)           (logits from the first answer position on,
                   logits_to_keep, and their float32 copy for the log-softmax)
    total        = (weights + lora + activations) x 1.1  (allocator fragmentation and workspace)

A rough, deliberately pessimistic model; it exists to refuse an impossible run with numbers
before minutes of loading, as the tfjs engine does (src/core/hf/memory.ts).
"""
from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import MemoryEstimateError

GIB = 1024**3


@dataclass(frozen=True)
class MemoryEstimate:
    parameters: int
    weights: int
    lora: int
    activations: int
    total: int

    def describe(self) -> str:
        g = lambda b: f"{b / GIB:.2f} GiB"  # noqa: E731
        return (f"{self.parameters / 1e6:.1f}M parameters: weights {g(self.weights)}, LoRA + AdamW {g(self.lora)}, "
                f"activations {g(self.activations)}, total with 10% headroom {g(self.total)}")


def safetensors_parameter_count(folder: Path) -> int:
    count = 0
    for file in sorted(folder.glob("*.safetensors")):
        with open(file, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        for key, info in header.items():
            if key == "__metadata__":
                continue
            size = 1
            for d in info["shape"]:
                size *= d
            count += size
    return count


def estimate_memory(folder: Path, text_config, *, weight_bytes: int, lora_params: int, rows: int, tokens: int,
                    answer_tokens: int, recompute: bool) -> MemoryEstimate:
    params = safetensors_parameter_count(folder)
    hidden = int(getattr(text_config, "hidden_size", 0) or 0)
    layers = int(getattr(text_config, "num_hidden_layers", 0) or 0)
    vocab = int(getattr(text_config, "vocab_size", 0) or 0)
    act_bytes = weight_bytes
    per_layer = 2 if recompute else 34
    logits = rows * min(tokens, answer_tokens + 1) * vocab * (act_bytes + 4)
    activations = rows * tokens * hidden * layers * act_bytes * per_layer + logits
    weights = params * weight_bytes
    lora = lora_params * 16
    total = int((weights + lora + activations) * 1.1)
    return MemoryEstimate(params, weights, lora, activations, total)


def lora_parameter_estimate(text_config, rank: int, targets: list[str]) -> int:
    """r x (in + out) per targeted linear of every language-model layer."""
    h = int(getattr(text_config, "hidden_size", 0) or 0)
    i = int(getattr(text_config, "intermediate_size", 0) or 0)
    heads = int(getattr(text_config, "num_attention_heads", 1) or 1)
    kv = int(getattr(text_config, "num_key_value_heads", heads) or heads)
    hd = int(getattr(text_config, "head_dim", 0) or (h // heads if heads else 0))
    shapes = {"q_proj": (h, heads * hd), "k_proj": (h, kv * hd), "v_proj": (h, kv * hd), "o_proj": (heads * hd, h),
              "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h)}
    layers = int(getattr(text_config, "num_hidden_layers", 0) or 0)
    return layers * sum(rank * (a + b) for t, (a, b) in shapes.items() if t in targets)


def refuse_if_too_big(estimate: MemoryEstimate, available: int, where: str) -> None:
    if estimate.total > available:
        raise MemoryEstimateError(
            f"This run needs about {estimate.total / GIB:.2f} GiB but {where} has {available / GIB:.2f} GiB available "
            f"({estimate.describe()}). Lower batchSize or maxLength, keep gradientCheckpointing on, use bf16 on a GPU "
            "that supports it, or pick a smaller model.")
