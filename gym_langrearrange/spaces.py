"""A ``Text`` space that also survives Gymnasium's shared-memory ``AsyncVectorEnv``.

Gymnasium's ``AsyncVectorEnv(shared_memory=True)`` reads every sub-space out of shared
memory once, at construction, and hands out that object on every step. For ``Box`` that
object is a live view of the buffer; for ``Text`` it is a tuple of strings decoded at
construction, so the instruction never changes. ``LiveText`` registers a reader that
returns a live view instead: it decodes the workers' latest text on access, and turns
into a plain tuple of strings when the vector env copies its observations (the default).
"""
from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import read_from_shared_memory

#: the characters of every text observation: instructions, descriptions, prompts
TEXT_CHARSET = string.ascii_letters + string.digits + string.punctuation + " "


class LiveText(spaces.Text):
    """``gymnasium.spaces.Text`` whose batched shared-memory observations stay current."""


class SharedTextView(Sequence):
    """The texts of all sub-environments, decoded from shared memory on access."""

    def __init__(self, space: spaces.Text, shared_memory, n: int) -> None:
        self._space = space
        self._codes = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(n, space.max_length)

    def __len__(self) -> int:
        return len(self._codes)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self))))
        chars, n_chars = self._space.character_list, len(self._space.character_list)
        return "".join(chars[c] for c in self._codes[index] if c < n_chars)

    def __deepcopy__(self, memo) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other) -> bool:
        return tuple(self) == tuple(other) if isinstance(other, Sequence) else NotImplemented

    def __repr__(self) -> str:
        return repr(tuple(self))


@read_from_shared_memory.register(LiveText)
def _read_live_text(space: LiveText, shared_memory, n: int = 1) -> SharedTextView:
    return SharedTextView(space, shared_memory, n)
