"""The project's seeded generator (sfc32), bit for bit as src/core/rng.ts.

The torch engine uses it for what must match the tfjs engine exactly: the order of each epoch
(`Rng.derive(seed, 'order/<epoch>').shuffle(...)`). Every operation is done on 32-bit unsigned
words, as the TypeScript does with `>>> 0` and Math.imul.
"""
from __future__ import annotations

import math

M32 = 0xFFFFFFFF


def hash_string(text: str) -> int:
    """32-bit FNV-1a over UTF-16 code units (JavaScript's charCodeAt)."""
    h = 0x811C9DC5
    data = text.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | (data[i + 1] << 8)
        h = (h * 0x01000193) & M32
    return h


class Rng:
    def __init__(self, seed: int | list[int] | tuple[int, int, int, int]):
        if isinstance(seed, (list, tuple)):
            self.a, self.b, self.c, self.d = (int(v) & M32 for v in seed)
            return
        if not isinstance(seed, int):
            raise ValueError(f"Expected seed to be an integer, but got {seed!r}")
        self.a = 0x9E3779B9 ^ ((seed // 2**32) & M32)
        self.b = 0x243F6A88
        self.c = 0xB7E15162
        self.d = seed & M32
        for _ in range(15):
            self.next_uint32()

    @staticmethod
    def derive(seed: int, label: str) -> "Rng":
        s = seed & M32
        rng = Rng([s, hash_string(label), 0x6A09E667, 0xBB67AE85 ^ s])
        for _ in range(15):
            rng.next_uint32()
        return rng

    def next_uint32(self) -> int:
        t = (((self.a + self.b) & M32) + self.d) & M32
        self.d = (self.d + 1) & M32
        self.a = self.b ^ (self.b >> 9)
        self.b = (self.c + (self.c << 3)) & M32
        self.c = ((self.c << 21) | (self.c >> 11)) & M32
        self.c = (self.c + t) & M32
        return t

    def next(self) -> float:
        """Uniform in [0, 1)."""
        return self.next_uint32() / 4294967296

    def int(self, n: int) -> int:
        if n <= 0:
            raise ValueError(f"Expected n to be a positive integer, but got {n}")
        return math.floor(self.next() * n)

    def shuffle(self, items: list) -> list:
        """Fisher-Yates in place, the same draws as Rng.shuffle in TypeScript."""
        for i in range(len(items) - 1, 0, -1):
            j = self.int(i + 1)
            items[i], items[j] = items[j], items[i]
        return items

    def state(self) -> list[int]:
        return [self.a, self.b, self.c, self.d]
