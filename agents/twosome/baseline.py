"""The plain-PPO baseline of TWOSOME's paper (shared/spec/twosome.md §7): an MLP on the observation vector.

Separate actor and critic MLPs (64-64, tanh, orthogonal init), one combined loss, 4 epochs of 4
minibatches over 4 envs x 128 steps, value clipping, annealed learning rate. On the salad tasks it
sees the whole kitchen (``obs_radius=10``) with a subtask reward of 0.1, all macros allowed, and
discounts each macro by gamma^k (:class:`MacroPPO`); on the household tasks its logits are masked to
the prompt's valid subset (sb3-contrib's MaskablePPO, per-step discount).

:class:`UniformValidActions` is the reference below both: a macro drawn uniformly from those the task
marks valid (on the salads, all of them), which says how much an LLM's prior helps or hurts.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO

from agents.twosome.algorithm import MacroBoxRolloutBuffer, MacroDiscountRollouts
from agents.twosome.recipes import TaskRecipe

POLICY_KWARGS = {"net_arch": {"pi": [64, 64], "vf": [64, 64]}, "activation_fn": torch.nn.Tanh, "ortho_init": True}


class MacroPPO(MacroDiscountRollouts, PPO):
    """PPO whose GAE discounts a k-step macro by gamma^k and whose episode ends are all terminal."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, rollout_buffer_class=MacroBoxRolloutBuffer, **kwargs)


def baseline_env_kwargs(recipe: TaskRecipe) -> dict[str, Any]:
    """How the baseline's envs differ from TWOSOME's: the salads' full view and 0.1 subtask reward."""
    if recipe.overcooked:
        from gym_langrearrange.twosome.kitchen import Rewards

        return {"obs_radius": 10, "rewards": Rewards(subtask=0.1)}
    return {}


def baseline_algorithm(recipe: TaskRecipe) -> type:
    """MacroPPO on the salads (gamma^k, all macros), MaskablePPO on the household tasks (the valid subset)."""
    return MacroPPO if recipe.overcooked else MaskablePPO


def make_baseline(recipe: TaskRecipe, venv, seed: int, device: str = "cpu", tensorboard_log: str | None = None):
    lr = recipe.ppo_lr
    return baseline_algorithm(recipe)("MlpPolicy", venv, learning_rate=lambda progress: lr * progress, n_steps=128, batch_size=128,
                     n_epochs=4, gamma=recipe.ppo_gamma, gae_lambda=0.95, clip_range=0.2, clip_range_vf=0.2,
                     ent_coef=0.01, vf_coef=0.5, max_grad_norm=0.5, policy_kwargs=POLICY_KWARGS, seed=seed,
                     device=device, tensorboard_log=tensorboard_log)


class UniformValidActions:
    """A policy with SB3's ``predict`` that draws uniformly from the valid actions (``action_masks``)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.num_timesteps = 0

    def predict(self, observation: Any, deterministic: bool = False, action_masks: np.ndarray | None = None):
        if action_masks is None or not np.any(action_masks):
            raise ValueError("UniformValidActions.predict needs action_masks with at least one valid action")
        return int(self.rng.choice(np.flatnonzero(action_masks))), None
