"""The rollout buffer of LLaRP: SB3's dict rollout buffer plus the context of unfinished episodes.

An episode often starts in one rollout and continues in the next. The policy's output at a
step depends on the earlier frames of its context window, so the buffer keeps, per env, the
observations of the episode's steps before this rollout that the rollout started from
(``prefix``, at most the window minus one step) and the episode step of the first of them. For
the update, each env's rollout is cut at episode starts into segments; a segment becomes one
sequence ``[instruction, prefix frames (context only), segment frames (scored)]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from stable_baselines3.common.buffers import DictRolloutBuffer

from agents.llarp.context import StepContext

INSTRUCTION_KEYS = ("instruction", "instruction_mask")


@dataclass
class SequenceBatch:
    instruction: torch.Tensor  # (B, K) token ids
    instruction_mask: torch.Tensor  # (B, K)
    steps: dict[str, torch.Tensor]  # key -> (B, T, ...) step observations, left-aligned
    step_mask: torch.Tensor  # (B, T) the step exists
    score_mask: torch.Tensor  # (B, T) the step belongs to this rollout (prefix steps are context only)
    first_step: torch.Tensor  # (B,) the episode step of each row's first step
    context: StepContext | None  # with prefix_context="cached": the rollout-start context of every env
    context_rows: torch.Tensor  # (B,) the env whose rollout-start context a row continues (-1: none)
    # per scored step, in row-major (B, T) order of score_mask:
    actions: torch.Tensor
    old_log_prob: torch.Tensor
    old_values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


class EpisodeContextBuffer(DictRolloutBuffer):
    def reset(self) -> None:
        super().reset()
        self.prefix: list[list[dict[str, np.ndarray]]] = [[] for _ in range(self.n_envs)]
        self.prefix_first = np.zeros(self.n_envs, dtype=np.int64)
        self.context = None

    def set_prefix(self, prefix: list[list[dict[str, np.ndarray]]], first: np.ndarray | None = None,
                   context: StepContext | None = None) -> None:
        """Per env: observations of the current episode's steps before this rollout that the rollout's
        context holds, and the episode step of the first (default 0: the whole episode so far); or
        instead of observations, the rollout-start ``context`` itself (its keys/values, detached)."""
        self.prefix = [list(p) for p in prefix]
        self.prefix_first = np.zeros(self.n_envs, dtype=np.int64) if first is None else np.asarray(first, np.int64)
        self.context = context

    @property
    def continuing(self) -> np.ndarray:
        """(n_envs,) which envs began this rollout inside an episode."""
        return ~self.episode_starts[0].astype(bool)

    def segments(self) -> list[tuple[int, int, int]]:
        """(env, first step, end step) of every episode segment in the rollout."""
        out = []
        starts = self.episode_starts  # (n_steps, n_envs)
        for e in range(self.n_envs):
            cuts = [0] + [t for t in range(1, self.buffer_size) if starts[t, e]] + [self.buffer_size]
            out += [(e, a, b) for a, b in zip(cuts, cuts[1:])]
        return out

    def sequence_batches(self, n_minibatches: int, rng: np.random.Generator | None = None
                         ) -> Iterator[SequenceBatch]:
        """Shuffled segments grouped into ``n_minibatches`` batches of about equal step counts."""
        assert self.generator_ready or self.full, "compute returns and advantages before sampling"
        segs = self.segments()
        order = (rng or np.random.default_rng()).permutation(len(segs))
        total = sum(b - a for _, a, b in segs)
        target = total / n_minibatches
        batch: list[tuple[int, int, int]] = []
        count, made = 0, 0
        for i in order:
            batch.append(segs[i])
            count += segs[i][2] - segs[i][1]
            if count >= target * (made + 1) and made < n_minibatches - 1:
                yield self._make_batch(batch)
                batch, made = [], made + 1
        if batch:
            yield self._make_batch(batch)

    def _make_batch(self, segs: list[tuple[int, int, int]]) -> SequenceBatch:
        obs_keys = [k for k in self.observations if k not in INSTRUCTION_KEYS]
        rows = []
        for e, a, b in segs:
            prefix = self.prefix[e] if a == 0 and not self.episode_starts[0, e] else []
            rows.append((e, a, b, prefix))
        t_max = max(len(p) + b - a for _, a, b, p in rows)
        n = len(rows)
        steps = {k: np.zeros((n, t_max, *self.observations[k].shape[2:]), dtype=self.observations[k].dtype)
                 for k in obs_keys}
        step_mask = np.zeros((n, t_max), dtype=bool)
        score_mask = np.zeros((n, t_max), dtype=bool)
        picks_t, picks_e = [], []
        for i, (e, a, b, prefix) in enumerate(rows):
            p = len(prefix)
            for j, o in enumerate(prefix):
                for k in obs_keys:
                    steps[k][i, j] = o[k]
            for k in obs_keys:
                steps[k][i, p:p + b - a] = self.observations[k][a:b, e]
            step_mask[i, :p + b - a] = True
            score_mask[i, p:p + b - a] = True
            picks_t += range(a, b)
            picks_e += [e] * (b - a)
        first = [a for _, a, _, _ in rows]
        envs = [e for e, _, _, _ in rows]
        continues = [a == 0 and not self.episode_starts[0, e] for e, a, _, _ in rows]
        first_step = [self.prefix_first[e] if c else 0 for (e, _, _, _), c in zip(rows, continues)]
        context_rows = [e if c and self.context is not None else -1 for (e, _, _, _), c in zip(rows, continues)]
        dev = self.device

        def t(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, device=dev)

        return SequenceBatch(
            instruction=t(self.observations["instruction"][first, envs]).long(),
            instruction_mask=t(self.observations["instruction_mask"][first, envs]).long(),
            steps={k: t(v) for k, v in steps.items()}, step_mask=t(step_mask), score_mask=t(score_mask),
            first_step=t(np.asarray(first_step, dtype=np.int64)), context=self.context,
            context_rows=t(np.asarray(context_rows, dtype=np.int64)),
            actions=t(self.actions[picks_t, picks_e]).long().reshape(-1),
            old_log_prob=t(self.log_probs[picks_t, picks_e]).float(),
            old_values=t(self.values[picks_t, picks_e]).float(),
            advantages=t(self.advantages[picks_t, picks_e]).float(),
            returns=t(self.returns[picks_t, picks_e]).float(),
        )
