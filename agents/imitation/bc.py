"""Behaviour cloning of LLaRP on expert demonstrations (LLaRP-IL; LLaRP-Scratch-IL with a random LLM).

The loss goes through the policy's masked parallel pass over whole episodes, the one PPO's update
uses (``LLaRPPolicy.evaluate_sequences``; ``tests/test_llarp.py`` shows it equals step-by-step
rollout decoding), so a cloned policy acts in rollouts exactly as it was trained:

    logits (B, T, A) = policy.evaluate_sequences(instruction, steps of B whole episodes)
    loss = mean over real steps of cross-entropy(logits, expert action)

Episodes are re-played from the demonstrations into observations (frames at the learner's image
size, its tokenizer's instruction), a batch of ``batch_episodes`` at a time, in a new random order
every pass over the demonstrations. The result is an ordinary LLaRP checkpoint.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from agents.imitation.demos import Demo, replay


@dataclass
class EpisodeBatch:
    instruction: torch.Tensor  # (B, K)
    instruction_mask: torch.Tensor  # (B, K)
    steps: dict[str, torch.Tensor]  # key -> (B, T, ...), left-aligned
    step_mask: torch.Tensor  # (B, T)
    actions: torch.Tensor  # (B, T) expert skills (0 where there is no step)


def episode_batch(env, demos: Sequence[Demo], device: torch.device | str = "cpu") -> EpisodeBatch:
    """Re-play ``demos`` in ``env`` (a TokenizeInstruction-wrapped LangRearrange env) into one batch."""
    episodes = [list(replay(env, demo)) for demo in demos]
    b, t = len(episodes), max(len(e) for e in episodes)
    first = episodes[0][0][0]
    keys = [k for k in first if k not in ("instruction", "instruction_mask")]
    steps = {k: np.zeros((b, t, *np.shape(first[k])), dtype=np.asarray(first[k]).dtype) for k in keys}
    mask, actions = np.zeros((b, t), dtype=bool), np.zeros((b, t), dtype=np.int64)
    instruction = np.stack([e[0][0]["instruction"] for e in episodes])
    instruction_mask = np.stack([e[0][0]["instruction_mask"] for e in episodes])
    for i, episode in enumerate(episodes):
        for j, (obs, _, action) in enumerate(episode):
            for k in keys:
                steps[k][i, j] = obs[k]
            mask[i, j], actions[i, j] = True, action

    def tensor(x):
        return torch.as_tensor(x, device=device)

    return EpisodeBatch(tensor(instruction), tensor(instruction_mask), {k: tensor(v) for k, v in steps.items()},
                        tensor(mask), tensor(actions))


def bc_loss(policy, batch: EpisodeBatch) -> tuple[torch.Tensor, float]:
    """(cross-entropy over the real steps, the share of them where the policy's argmax is the expert's)."""
    logits, _ = policy.evaluate_sequences(batch.instruction, batch.instruction_mask, batch.steps, batch.step_mask)
    logits, target = logits[batch.step_mask].float(), batch.actions[batch.step_mask]  # (n, A), (n,)
    return F.cross_entropy(logits, target), float((logits.argmax(-1) == target).float().mean())
