"""TWOSOME's salad tasks as Gymnasium environments: ``TWOSOME/TomatoSalad-v0`` and ``TomatoLettuceSalad-v0``.

One action is one macro-action of the kitchen (:mod:`gym_langrearrange.twosome.kitchen`); its reward
is the macro's primitive rewards discounted by 0.99 within it, and ``info["macro_action_steps"]``
its duration k, so that a learner discounts the next value by gamma^k (TWOSOME's GAE does).
An episode ends on the right dish served (terminated) or when a macro ends at or past 200
primitive steps (truncated).

The observation is the vector of the original (raw integer positions of what the agent sees
within ``obs_radius``, chop counts, the recipe one-hot); ``obs_mode="text"`` adds the prompt
TWOSOME's policy reads. The texts of the actions change with the state (``info["action_texts"]``);
every action is always allowed (``info["action_mask"]`` is all ones), as in the original.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from gym_langrearrange.checks import action_id, choice, positive_int
from gym_langrearrange.spaces import TEXT_CHARSET
from gym_langrearrange.twosome.kitchen import (MACRO_DISCOUNT, RECIPES, TOMATO_LETTUCE_SALAD, TOMATO_SALAD, Kitchen,
                                               Layout, Rewards, macros_of)
from gym_langrearrange.twosome.overcooked_text import describe_kitchen

MAX_PRIMITIVE_STEPS = 200
PROMPT_CHARS = 1024


class OvercookedEnv(gym.Env):
    """A single-agent salad task in a 7x7 kitchen, with TWOSOME's macro-actions.

    Args:
        layout: the kitchen (:data:`TOMATO_SALAD` or :data:`TOMATO_LETTUCE_SALAD`).
        obs_radius: how far the agent sees (2: the paper's 5x5 view; 10: the whole kitchen, as
            the original plain-PPO baseline had).
        rewards: primitive rewards (default TWOSOME's: subtask 0.2, delivery 1, wrong -0.1, step -0.001).
        max_primitive_steps: the cap, checked when a macro ends.
        obs_mode: ``"vector"`` (a Box) or ``"text"`` (a dict of ``vector`` and the ``text`` prompt).
        render_mode: ``"rgb_array"`` makes ``render()`` draw the kitchen.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, layout: Layout = TOMATO_SALAD, obs_radius: int = 2, rewards: Rewards | None = None,
                 max_primitive_steps: int = MAX_PRIMITIVE_STEPS, obs_mode: str = "vector",
                 render_mode: str | None = None) -> None:
        if not isinstance(layout, Layout):
            raise ValueError(f"layout must be a kitchen Layout (TOMATO_SALAD or TOMATO_LETTUCE_SALAD), got {layout!r}")
        self.obs_radius = positive_int("obs_radius", obs_radius, "cells the agent sees in each direction")
        self.max_primitive_steps = positive_int("max_primitive_steps", max_primitive_steps, "primitive steps per episode")
        self.obs_mode = choice("obs_mode", obs_mode, ("vector", "text"))
        self.render_mode = choice("render_mode", render_mode, (None, "rgb_array"))
        if rewards is not None and not isinstance(rewards, Rewards):
            raise ValueError(f"rewards must be a kitchen Rewards or None, got {rewards!r}")
        self.layout = layout
        self.macros = macros_of(layout)
        self.kitchen = Kitchen(layout, rewards or Rewards())
        self.action_space = spaces.Discrete(len(self.macros))
        vector = spaces.Box(0.0, float(layout.size - 1), (3 * len(layout.foods) + 2 * (3 + len(layout.boards))
                                                          + len(RECIPES),), dtype=np.float32)
        self.observation_space = vector if self.obs_mode == "vector" else spaces.Dict(
            {"vector": vector, "text": spaces.Text(PROMPT_CHARS, min_length=1, charset=TEXT_CHARSET)})
        self._started = False
        self._return = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)  # the task is deterministic: the seed changes nothing
        self.kitchen.reset()
        self._started, self._return = True, 0.0
        obs, texts = self._observe()
        return obs, {"action_texts": texts, "action_mask": self.action_masks()}

    def step(self, action):
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        macro = self.macros[action_id(action, self.action_space.n, "macro-action id")]
        start = self.kitchen.steps
        outcome = self.kitchen.run(macro, self.obs_radius)
        self._return += MACRO_DISCOUNT ** start * outcome.reward
        terminated = outcome.success
        truncated = not terminated and self.kitchen.steps >= self.max_primitive_steps
        obs, texts = self._observe()
        info: dict[str, Any] = {"macro_action_steps": outcome.primitive_steps, "success": terminated,
                                "action_texts": texts, "action_mask": self.action_masks()}
        if terminated or truncated:
            self._started = False
            info["episode"] = {"r": self._return, "l": self.kitchen.steps}  # discounted 0.99 per primitive step
        return obs, outcome.reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """All macros are always allowed (the original has no mask)."""
        return np.ones(self.action_space.n, dtype=bool)

    def vector(self) -> np.ndarray:
        """The observation vector: per item its position (and chops) if in view, else zeros; the recipe one-hot."""
        k, values = self.kitchen, []
        for food in self.layout.foods:
            seen = k.in_view(k.position(food), self.obs_radius)
            values += [*k.position(food), k.chops[food]] if seen else [0, 0, 0]
        for cell in (k.position("bowl"), *self.layout.boards, self.layout.delivery, k.agent):
            values += list(cell) if k.in_view(cell, self.obs_radius) else [0, 0]
        values += [1 if recipe == self.layout.recipe else 0 for recipe in RECIPES]
        return np.array(values, dtype=np.float32)

    def _observe(self) -> tuple[Any, tuple[str, ...]]:
        vector = self.vector()
        prompt, texts = describe_kitchen(vector, self.layout)
        obs = vector if self.obs_mode == "vector" else {"vector": vector, "text": prompt}
        return obs, texts

    def render(self):
        if self.render_mode == "rgb_array":
            from gym_langrearrange.twosome.render import draw_kitchen

            return draw_kitchen(self.kitchen)
        return None


class TomatoSaladEnv(OvercookedEnv):
    """Tomato Salad: chop a tomato, put it in the bowl, serve it (5 macro-actions)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(TOMATO_SALAD, **kwargs)


class TomatoLettuceSaladEnv(OvercookedEnv):
    """Tomato-Lettuce Salad: chop a tomato and a lettuce, both into the bowl, serve (8 macro-actions; an onion distracts)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(TOMATO_LETTUCE_SALAD, **kwargs)

