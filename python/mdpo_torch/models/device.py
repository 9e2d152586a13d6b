"""Which device and precision a run uses (PROTOCOL.md 3: config.backend / torch.device, torch.precision)."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..errors import JobError


@dataclass(frozen=True)
class Placement:
    device: torch.device
    #: Weights of the frozen base are stored in this dtype; LoRA weights stay float32.
    weight_dtype: torch.dtype
    #: bf16 autocast on, or None for plain float32.
    autocast: torch.dtype | None

    def describe(self) -> str:
        name = str(self.device)
        if self.device.type == "cuda":
            name += " " + torch.cuda.get_device_name(self.device)
        return f"torch {name} ({'bfloat16' if self.autocast else 'float32'})"


def pick_placement(device: str = "auto", precision: str = "auto") -> Placement:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise JobError("The run asks for CUDA, but torch sees no CUDA GPU here (torch.cuda.is_available() is False).")
    if device == "mps" and not torch.backends.mps.is_available():
        raise JobError("The run asks for Apple MPS, but torch reports it unavailable.")
    if device not in ("cuda", "mps", "cpu"):
        raise JobError(f'Unknown device "{device}"; expected auto, cuda, mps or cpu')
    dev = torch.device("cuda", torch.cuda.current_device()) if device == "cuda" else torch.device(device)
    bf16_ok = (device == "cuda" and torch.cuda.is_bf16_supported()) or device == "mps"
    if precision == "bf16" and not bf16_ok:
        raise JobError(f"precision bf16 was asked for, but {device} does not support bfloat16 here; use precision auto or fp32")
    if precision not in ("auto", "bf16", "fp32"):
        raise JobError(f'Unknown precision "{precision}"; expected auto, bf16 or fp32')
    use_bf16 = precision == "bf16" or (precision == "auto" and bf16_ok)
    return Placement(dev, torch.bfloat16 if use_bf16 else torch.float32, torch.bfloat16 if use_bf16 else None)


def device_memory_bytes(device: torch.device) -> int:
    """Total memory the run may use: the GPU's free memory, or the machine's available RAM."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
