"""Reference log-probs computed once per pair (adapters off, no gradient), reused for the run.

Keys: "<pair id>\\u0000chosen" | "...\\u0000rejected" | "...\\u0000imageless" (src/core/train/ref-cache.ts).
logp_ref(y_w | m') is cached only when m' is fixed per pair. Saved with checkpoints. What the
values depend on besides the pair (base weights, records, images, template, limits) is pinned
by the checkpoint's fingerprints and config: a resume with any of them changed is refused.
"""
from __future__ import annotations


class RefCache:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(pair_id: str, kind: str) -> str:
        return f"{pair_id}\u0000{kind}"

    def get(self, pair_id: str, kind: str) -> float | None:
        v = self.values.get(self.key(pair_id, kind))
        if v is None:
            self.misses += 1
        else:
            self.hits += 1
        return v

    def set(self, pair_id: str, kind: str, value: float) -> None:
        self.values[self.key(pair_id, kind)] = value

    def export(self) -> dict:
        return {"keys": list(self.values), "values": list(self.values.values())}

    @staticmethod
    def from_saved(saved: dict | None) -> "RefCache":
        cache = RefCache()
        if saved:
            cache.values = dict(zip(saved["keys"], (float(v) for v in saved["values"])))
        return cache
