"""Model inputs for a list of rows (prompt + image + answer tokens), and the answer mask.

The processor lays out each prompt with its image (placeholders expanded, pixel tensors in the
family's own keys); the answer tokens are appended after each row's prompt, and rows are padded
on the RIGHT (so no position of a real token moves). `answer_mask[r, t]` is true where token t
of row r is an answer token or its end token: prompt, image and padding positions are false.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image


@dataclass(frozen=True)
class Row:
    prompt_text: str
    image: Image.Image | None
    answer: tuple[int, ...]


@dataclass
class Batch:
    inputs: dict[str, torch.Tensor]  # input_ids [R, L], attention_mask [R, L], pixel keys...
    answer_mask: torch.Tensor  # [R, L] bool
    first_answer: int  # smallest answer position over the rows
    prompt_lengths: list[int]

    @property
    def tokens(self) -> int:
        return int(self.inputs["attention_mask"].sum())

    def to(self, device: torch.device) -> "Batch":
        return Batch({k: v.to(device) for k, v in self.inputs.items()}, self.answer_mask.to(device),
                     self.first_answer, self.prompt_lengths)


def encode_prompts(processor, rows: list[Row]) -> dict[str, torch.Tensor]:
    texts = [r.prompt_text for r in rows]
    with_images = rows[0].image is not None
    if with_images:
        return dict(processor(text=texts, images=[[r.image] for r in rows], padding=True, return_tensors="pt"))
    return dict(processor(text=texts, padding=True, return_tensors="pt"))


def prompt_ids(processor, rows: list[Row]) -> list[list[int]]:
    """Each row's prompt tokens as the processor lays them out (image placeholders expanded)."""
    enc = encode_prompts(processor, rows)
    return [enc["input_ids"][r][enc["attention_mask"][r].bool()].tolist() for r in range(len(rows))]


def build_batch(processor, rows: list[Row], pad_id: int) -> Batch:
    enc = encode_prompts(processor, rows)
    ids, attn = enc.pop("input_ids"), enc.pop("attention_mask")  # [R, Lp]
    per_token = {k: v for k, v in enc.items() if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[:2] == ids.shape}
    rest = {k: v for k, v in enc.items() if k not in per_token}
    prompts = [ids[r][attn[r].bool()] for r in range(len(rows))]  # each [P_r]
    lengths = [int(p.numel()) + len(row.answer) for p, row in zip(prompts, rows)]
    R, L = len(rows), max(lengths)
    input_ids = torch.full((R, L), pad_id, dtype=ids.dtype)
    attention = torch.zeros((R, L), dtype=attn.dtype)
    mask = torch.zeros((R, L), dtype=torch.bool)
    extra = {k: torch.zeros((R, L, *v.shape[2:]), dtype=v.dtype) for k, v in per_token.items()}
    for r, (p, row) in enumerate(zip(prompts, rows)):
        P, A = p.numel(), len(row.answer)
        input_ids[r, :P] = p
        input_ids[r, P:P + A] = torch.tensor(row.answer, dtype=ids.dtype)
        attention[r, :P + A] = 1
        mask[r, P:P + A] = True
        for k, v in per_token.items():
            extra[k][r, :P] = v[r][attn[r].bool()]  # answer and padding positions stay 0 (text)
    p_lens = [int(p.numel()) for p in prompts]
    return Batch({"input_ids": input_ids, "attention_mask": attention, **extra, **rest}, mask, min(p_lens), p_lens)
