"""Reference log-probs computed once per pair (adapters off, no gradient), reused for the run.

Keys: "<pair id>\\u0000chosen" | "...\\u0000rejected" | "...\\u0000imageless" within a SCOPE
(src/core/train/ref-cache.ts): fingerprint.reference_scope(inputs), a hash of the base weights,
tokenizer, dataset (prompt/answer ids and m pixels) and m' fingerprints, i.e. of everything a
reference log-prob depends on. logp_ref(y_w | m') is cached only when m' is fixed per pair.
Saved with checkpoints; a saved cache of another scope (or none) is never used.
"""
from __future__ import annotations


class RefCache:
    def __init__(self, scope: str = "") -> None:
        self.scope = scope
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
        return {"scope": self.scope, "keys": list(self.values), "values": list(self.values.values())}

    @staticmethod
    def from_saved(saved: dict | None, scope: str) -> "RefCache":
        """A cache for `scope`, filled from `saved` only when it was computed in the same scope."""
        cache = RefCache(scope)
        if saved and saved.get("scope") == scope and saved.get("keys") is not None:
            cache.values = dict(zip(saved["keys"], (float(v) for v in saved["values"])))
        return cache
