"""A small deterministic random source for everything that must be a pure function of its key.

Python guarantees that ``random.Random(str_seed).random()`` yields the same sequence in
every Python version, but not ``choice``/``randrange``/``shuffle``. All draws here are
built on ``random()`` only, so scenes and episodes are reproducible everywhere.
"""
from __future__ import annotations

import random
from typing import Sequence, TypeVar

T = TypeVar("T")


class DetRng:
    __slots__ = ("_random",)

    def __init__(self, *key: object) -> None:
        self._random = random.Random("/".join(str(k) for k in key)).random

    def random(self) -> float:
        return self._random()

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self._random()

    def below(self, n: int) -> int:
        """An integer in [0, n)."""
        x = int(self._random() * n)
        return x if x < n else n - 1  # random() * n can round up to n

    def integer(self, low: int, high: int) -> int:
        """An integer in [low, high] (both ends included)."""
        return low + self.below(high - low + 1)

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.below(len(seq))]

    def chance(self, p: float) -> bool:
        return self._random() < p

    def shuffled(self, seq: Sequence[T]) -> list[T]:
        out = list(seq)
        for i in range(len(out) - 1, 0, -1):
            j = self.below(i + 1)
            out[i], out[j] = out[j], out[i]
        return out

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        return self.shuffled(seq)[:k]
