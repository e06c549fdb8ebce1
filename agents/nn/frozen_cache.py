"""A bounded LRU of what a frozen language model computes from token rows.

A frozen model's output for a token row (hidden states, keys/values) is a pure function
of the tokens, so it can be computed once and reused across rollouts and PPO updates,
while only the trainable parts around it run again. Used by LLaRP (instruction
keys/values) and the LSTM-LLaMA encoder (instruction hidden states); the LSTM features
extractor also keeps its instruction vectors here between two updates of its encoder.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Generic, Sequence, TypeVar

import torch

T = TypeVar("T")


def row_keys(ids: torch.Tensor, mask: torch.Tensor) -> list[bytes]:
    """One key per row of (B, T) token ids: its real tokens (``mask`` 1), whatever the padding."""
    ids, mask = ids.long().cpu().numpy(), mask.bool().cpu().numpy()
    return [row[keep].tobytes() for row, keep in zip(ids, mask)]


class FrozenOutputCache(Generic[T]):
    """LRU by row key; ``capacity`` 0 disables it (everything is computed every time)."""

    def __init__(self, capacity: int) -> None:
        if capacity < 0:
            raise ValueError(f"cache capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._items: OrderedDict[bytes, T] = OrderedDict()
        self.computed_rows = 0  # rows the model actually ran on (tests and curiosity)

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()

    def get(self, keys: list[bytes], compute: Callable[[list[int]], Sequence[T]]) -> list[T]:
        """The item of every key; ``compute(indices)`` runs once, for the rows whose key is new."""
        missing = {k: i for i, k in enumerate(keys) if k not in self._items}  # one row per new key
        fresh = dict(zip(missing, compute(list(missing.values())))) if missing else {}
        self.computed_rows += len(fresh)
        out = [fresh[k] if k in fresh else self._items[k] for k in keys]
        if self.capacity:
            self._items.update(fresh)
            for k in keys:
                self._items.move_to_end(k)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return out
