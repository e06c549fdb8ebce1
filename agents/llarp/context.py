"""The key/value cache of LLaRP's rollouts: each env's instruction and the steps its context window holds.

Layout of a :class:`StepContext` (per env ``i``, columns of one preallocated buffer):

    columns 0 .. base-1           the instruction (its first ``instruction[i]`` columns; the rest free)
    columns base .. base+width-1  step tokens; the token at episode offset ``o`` (tokens after the
                                  instruction) sits at column ``base + o``, or ``base + o % span`` with
                                  a context window of ``span`` tokens (a ring: a new step overwrites
                                  the step that just left the window)

``pos`` says which position id each column holds (-1: free). A query at position ``p`` sees every
column whose position is in ``0 .. p``: the instruction, and the steps still in the ring. Writes
go in place (``InPlaceLayer``), so decoding never copies the cache.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from transformers.cache_utils import DynamicCache, DynamicLayer


@dataclass
class StepContext:
    """Per-env decoding state during rollouts (see the module docstring for the layout)."""

    kv: torch.Tensor | None  # (layers, 2 [keys, values], N, kv_heads, capacity, head_dim); None = nothing yet
    pos: torch.Tensor  # (N, capacity) position id of the token in each column, -1 = free
    count: torch.Tensor  # (N,) tokens of each env's current episode (= the next token's position id)
    instruction: torch.Tensor  # (N,) instruction tokens of each env's episode
    base: int = 0  # first column of the step region

    @classmethod
    def empty(cls, n_envs: int, device: torch.device) -> "StepContext":
        zeros = torch.zeros(n_envs, dtype=torch.long, device=device)
        return cls(None, torch.full((n_envs, 0), -1, dtype=torch.long, device=device), zeros, zeros.clone())

    @classmethod
    def of_instructions(cls, kv: torch.Tensor, count: torch.Tensor) -> "StepContext":
        """Keys/values (layers, 2, N, heads, K, head_dim) of left-aligned instructions of ``count`` tokens."""
        columns = torch.arange(kv.shape[4], device=count.device)[None].expand(len(count), -1)
        pos = columns.masked_fill(columns >= count[:, None], -1)
        return cls(kv, pos, count, count.clone(), kv.shape[4])

    def clone(self) -> "StepContext":
        return StepContext(None if self.kv is None else self.kv.clone(), self.pos.clone(), self.count.clone(),
                           self.instruction.clone(), self.base)

    @property
    def visible(self) -> torch.Tensor:
        """(N, capacity) 1 where a column holds a token of the env's current episode."""
        return (self.pos >= 0).long()

    @property
    def steps_width(self) -> int:
        return 0 if self.kv is None else self.kv.shape[4] - self.base

    def layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer (keys, values), views (N, kv_heads, capacity, head_dim) of ``kv``."""
        return [] if self.kv is None else [(layer[0], layer[1]) for layer in self.kv]

    def step_columns(self, offsets: torch.Tensor, span: int | None) -> torch.Tensor:
        """Columns of the step tokens at episode ``offsets`` (tokens after the instruction)."""
        return self.base + (offsets if span is None else offsets % span)

    def resized(self, base: int, steps_width: int, buffers: "BufferShape") -> "StepContext":
        """A copy with ``base`` instruction columns and ``steps_width`` step columns, keeping the
        instruction and the step columns that still fit."""
        n = len(self.count)
        kv = buffers.allocate(n, base + steps_width)
        pos = torch.full((n, base + steps_width), -1, dtype=torch.long, device=self.count.device)
        if self.kv is not None:
            kept, steps_kept = min(self.base, base), min(self.steps_width, steps_width)
            kv[..., :kept, :] = self.kv[..., :kept, :]
            kv[..., base:base + steps_kept, :] = self.kv[..., self.base:self.base + steps_kept, :]
            pos[:, :kept] = self.pos[:, :kept]
            pos[:, base:base + steps_kept] = self.pos[:, self.base:self.base + steps_kept]
        return StepContext(kv, pos, self.count, self.instruction, base)

    def adopt(self, other: "StepContext") -> None:
        """Take ``other``'s buffers in place (rollouts hold on to this object)."""
        self.kv, self.pos, self.count, self.instruction, self.base = (other.kv, other.pos, other.count,
                                                                     other.instruction, other.base)


@dataclass
class BufferShape:
    """What a key/value buffer of a given LLM holds per column."""

    layers: int
    heads: int
    head_dim: int
    dtype: torch.dtype
    device: torch.device

    def allocate(self, n: int, width: int) -> torch.Tensor:
        return torch.zeros(self.layers, 2, n, self.heads, width, self.head_dim, dtype=self.dtype, device=self.device)


def context_from_entries(entries: list[torch.Tensor]) -> StepContext:
    """Cached per-row instruction keys/values (layers, 2, heads, K_row, head_dim) -> one batch context."""
    counts = [e.shape[3] for e in entries]
    layers, _, heads, _, head_dim = entries[0].shape
    kv = entries[0].new_zeros((layers, 2, len(entries), heads, max(max(counts), 1), head_dim))
    for r, e in enumerate(entries):
        kv[:, :, r, :, :counts[r]] = e
    return StepContext.of_instructions(kv, torch.tensor(counts, device=kv.device))


def context_after_block(instructions: StepContext, cache: Any, token_mask: torch.Tensor, offsets: torch.Tensor,
                        span: int | None, buffers: BufferShape) -> StepContext:
    """The rollout context after a parallel pass over instruction + a block of step tokens.

    ``cache`` holds the pass's keys/values (instruction columns, then the block's T tokens);
    ``token_mask`` (N, T) says which block tokens exist (left-aligned), ``offsets`` (N, T) their
    episode offsets. With a window of ``span`` tokens the block must fit in it. Rows with no
    block tokens come back empty (their next observation starts an episode).
    """
    kv = torch.stack([torch.stack((layer.keys, layer.values)) for layer in cache.layers])
    k_width = instructions.kv.shape[4]
    n, t = token_mask.shape
    has = token_mask.any(1)
    lengths = token_mask.sum(1)
    if span is not None and int(lengths.max()) > span:
        raise ValueError(f"a block of {int(lengths.max())} step tokens does not fit a context window of {span}")
    width = span if span is not None else -(-max(int((offsets * token_mask).max()) + 1, 1) // 32) * 32
    out = StepContext.empty(n, token_mask.device).resized(k_width, width, buffers)
    out.kv[..., :k_width, :] = kv[..., :k_width, :]
    out.pos[:, :k_width] = instructions.pos
    rows, tokens = token_mask.nonzero(as_tuple=True)
    columns = out.step_columns(offsets[rows, tokens], span)
    out.kv[:, :, rows, :, columns] = kv[:, :, rows, :, k_width + tokens]
    out.pos[rows, columns] = instructions.count[rows] + offsets[rows, tokens]
    out.count = torch.where(has, instructions.count + offsets[:, 0] + lengths, 0)
    out.instruction = torch.where(has, instructions.count, 0)
    out.pos[~has] = -1
    return out


class InPlaceLayer(DynamicLayer):
    """A transformers cache layer over preallocated buffers (N, heads, capacity, head_dim): env ``rows[i]``
    writes its new keys/values at its own ``columns[i]`` (rows (N, 1), columns (N, q)), in place, and
    attention sees the whole buffer under the 4D mask the caller builds."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor) -> None:
        super().__init__()
        self.keys, self.values, self.device, self.is_initialized = keys, values, keys.device, True
        self.rows, self.columns = rows, columns

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs
               ) -> tuple[torch.Tensor, torch.Tensor]:
        # (N, heads, q, head_dim) -> rows x columns (N, q) of the buffers; index_put, since scatter_ walks
        # the whole buffer on CPU (~30x slower here)
        self.keys[self.rows, :, self.columns] = key_states.transpose(1, 2)
        self.values[self.rows, :, self.columns] = value_states.transpose(1, 2)
        return self.keys, self.values


def cache_holding(layers: list[Any]) -> Any:
    """A transformers ``DynamicCache`` over the given layers: ``InPlaceLayer``s, or (keys, values)
    pairs held as they are, uncopied.

    ``DynamicCache(ddp_cache_data=kv)`` would copy every layer once before appending the
    block (a second copy). Appending to a pair builds new tensors, so the caller's keys and
    values are never modified.
    """
    cache = DynamicCache()
    for layer in layers:
        if isinstance(layer, tuple):
            k, v = layer
            layer = DynamicLayer()
            layer.lazy_initialization(k, v)
            layer.keys, layer.values = k, v
        cache.layers.append(layer)
    return cache
