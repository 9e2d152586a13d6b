"""The preference objective as a loop task (src/core/train/preference-task.ts): per micro-batch,
the reference log-probs (cached, adapters off, no gradient), one policy forward over
[y_w | m ; y_l | m ; y_w | m'] and the loss. The SAME m' image feeds the policy and the reference.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import Limits, Pair, Row, answer_ids, build_batch, fit_answer, load_image, prompt_ids, prompt_text
from ..objective import ObjectiveConfig, PreferenceLogps, needs_imageless, preference_loss, preference_values
from .logps import sequence_logps
from .ref_cache import RefCache

KINDS = ("chosen", "rejected", "imageless")


@dataclass(frozen=True)
class PreparedPair:
    pair: Pair
    prompt_text: str
    chosen: tuple[int, ...]
    rejected: tuple[int, ...]
    prompt_ids: tuple[int, ...]


def prepare_pairs(processor, pairs: list[Pair], objective: ObjectiveConfig, limits: Limits, chunk: int = 16) -> list[PreparedPair]:
    """Lays out every pair once with the chat template; refuses (naming the record) a pair whose
    prompt is too long or whose answer would be truncated away."""
    limits.check()
    with_image = objective.use_image
    out: list[PreparedPair] = []
    for start in range(0, len(pairs), chunk):
        group = pairs[start:start + chunk]
        texts = [prompt_text(processor, p.prompt, with_image) for p in group]
        rows = [Row(t, load_image(p.image, what=f"Pair {p.index} ({p.id}) image m") if with_image else None, ())
                for t, p in zip(texts, group)]
        for p, t, ids_p in zip(group, texts, prompt_ids(processor, rows)):
            n = len(ids_p)
            where = f"Record {p.index} ({p.id})"
            ids = {k: answer_ids(processor, p.prompt, getattr(p, k), with_image, where=f"{where}, {k} answer")
                   for k in ("chosen", "rejected")}
            fitted = {k: fit_answer(v, n, limits, where=f"{where}, {k} answer") for k, v in ids.items()}
            out.append(PreparedPair(p, t, tuple(fitted["chosen"]), tuple(fitted["rejected"]), tuple(ids_p)))
    return out


class PreferenceTask:
    def __init__(self, model, processor, pairs: list[PreparedPair], objective: ObjectiveConfig, *,
                 fixed_per_pair: bool, autocast: torch.dtype | None, device: torch.device):
        self.model, self.processor, self.pairs = model, processor, pairs
        self.objective, self.fixed = objective, fixed_per_pair
        self.autocast, self.device = autocast, device
        self.cache = RefCache()
        tok = processor.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        self.records: dict[str, list[float]] = {}
        self.step_pairs = 0

    @property
    def size(self) -> int:
        return len(self.pairs)

    def begin_step(self, n_pairs: int) -> None:
        self.records = {k: [] for k in ("policy_chosen", "policy_rejected", "ref_chosen", "ref_rejected",
                                        "policy_imageless", "ref_imageless")}
        self.step_pairs = n_pairs

    def _cacheable(self, kind: str) -> bool:
        return kind != "imageless" or self.fixed

    def _batch(self, rows: list[Row]):
        return build_batch(self.processor, rows, self.pad_id).to(self.device)

    def _reference(self, rows: list[Row], ids: list[str], kinds: list[str]) -> list[float]:
        out: list[float | None] = [self.cache.get(i, k) if self._cacheable(k) else None for i, k in zip(ids, kinds)]
        missing = [r for r, v in enumerate(out) if v is None]
        if missing:
            batch = self._batch([rows[r] for r in missing])
            with torch.no_grad(), self.model.disable_adapter():
                values = sequence_logps(self.model, batch, self.autocast).double().cpu().tolist()
            for r, v in zip(missing, values):
                out[r] = v
                if self._cacheable(kinds[r]):
                    self.cache.set(ids[r], kinds[r], v)
        return [float(v) for v in out]  # type: ignore[arg-type]

    def micro_batch(self, indices: list[int], epoch: int) -> tuple[float, int]:
        """Forward + backward of one micro-batch; gradients accumulate in .grad. Returns
        (its share of the step's loss, tokens)."""
        with_imageless = needs_imageless(self.objective)
        use_image = self.objective.use_image
        prepared = [self.pairs[i] for i in indices]
        b = len(prepared)
        images = [load_image(p.pair.image, what=f"Pair {p.pair.index} ({p.pair.id}) image m") if use_image else None
                  for p in prepared]
        rows = [Row(p.prompt_text, im, p.chosen) for p, im in zip(prepared, images)]
        rows += [Row(p.prompt_text, im, p.rejected) for p, im in zip(prepared, images)]
        if with_imageless:
            e = 0 if self.fixed else epoch
            rows += [Row(p.prompt_text, load_image(p.pair.negatives[e], what=f"Pair {p.pair.index} ({p.pair.id}) m' of epoch {e}"),
                         p.chosen) for p in prepared]
        kinds = [KINDS[r // b] for r in range(len(rows))]
        ids = [prepared[r % b].pair.id for r in range(len(rows))]
        ref = self._reference(rows, ids, kinds)
        batch = self._batch(rows)
        policy = sequence_logps(self.model, batch, self.autocast)  # [R*b], R = 2 or 3
        ref_t = torch.tensor(ref, dtype=policy.dtype, device=policy.device)
        part = lambda t, k: t[k * b:(k + 1) * b]  # noqa: E731  [b]
        lp = PreferenceLogps(part(policy, 0), part(policy, 1), part(ref_t, 0), part(ref_t, 1),
                             part(policy, 2) if with_imageless else None, part(ref_t, 2) if with_imageless else None)
        loss, _terms = preference_loss(lp, self.objective)
        share = b / self.step_pairs  # mean over the micro-batch -> its share of the step's mean
        (loss * share).backward()
        p = policy.detach().double().cpu().tolist()
        rec = self.records
        rec["policy_chosen"] += p[:b]
        rec["policy_rejected"] += p[b:2 * b]
        rec["ref_chosen"] += ref[:b]
        rec["ref_rejected"] += ref[b:2 * b]
        if with_imageless:
            rec["policy_imageless"] += p[2 * b:]
            rec["ref_imageless"] += ref[2 * b:]
        return float(loss.detach()) * share, batch.tokens

    def step_metrics(self) -> dict[str, float]:
        r = {k: v for k, v in self.records.items() if v}
        return preference_values(r, self.objective)
