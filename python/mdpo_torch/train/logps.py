"""Summed answer log-probs of a batch of rows: logp(y | m, q) = Σ over answer tokens (and the end
token) of log p(token | everything before it). Prompt, image and padding positions do not count."""
from __future__ import annotations

import contextlib
import inspect

import torch

from ..data.batch import Batch


def _accepts_logits_to_keep(model) -> bool:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def sequence_logps(model, batch: Batch, autocast: torch.dtype | None) -> torch.Tensor:
    """[R] float32 sums. Only the logits from the first answer position on are computed when the
    model supports `logits_to_keep` (the image and prompt positions would cost [R, L, V] memory)."""
    inputs = dict(batch.inputs)
    ids, mask = inputs["input_ids"], batch.answer_mask  # [R, L]
    L = ids.shape[1]
    offset = 0
    if _accepts_logits_to_keep(model):
        offset = max(0, batch.first_answer - 1)
        inputs["logits_to_keep"] = L - offset
    device_type = ids.device.type
    ctx = torch.autocast(device_type, dtype=autocast) if autocast is not None else contextlib.nullcontext()
    with ctx:
        logits = model(**inputs, use_cache=False).logits  # [R, L - offset, V]
    logits = logits[:, :-1].float()  # position t predicts token t + 1
    targets = ids[:, offset + 1:]  # [R, L - offset - 1]
    token_logp = torch.gather(logits, 2, targets.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return (token_logp * mask[:, offset + 1:]).sum(dim=-1)  # [R]
