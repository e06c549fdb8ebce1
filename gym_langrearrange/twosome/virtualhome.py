"""TWOSOME's household tasks as Gymnasium environments: ``TWOSOME/FoodPreparation-v0`` and ``Entertainment-v0``.

One action is one simulator action of the house (:mod:`gym_langrearrange.twosome.home`). The reward
is 1 on success (which ends the episode) and 0 otherwise; an episode is truncated after 50 steps.
The observation is the original's 0/1 vector of what the character perceives; ``obs_mode="text"``
adds the prompt. Any action id is accepted (an impossible one changes nothing and costs the step);
``info["action_mask"]`` marks the subset TWOSOME's prompt offers, which its policy and the masked
PPO baseline choose from.
"""
from __future__ import annotations

from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from gym_langrearrange.checks import action_id, choice, positive_int
from gym_langrearrange.spaces import TEXT_CHARSET
from gym_langrearrange.twosome.home import ROOMS, Action, House
from gym_langrearrange.twosome.virtualhome_text import (ENTERTAINMENT_FIELDS, ENTERTAINMENT_TEXTS,
                                                        FOOD_PREPARATION_FIELDS, FOOD_PREPARATION_TEXTS,
                                                        describe_entertainment, describe_food_preparation)

MAX_STEPS = 50
DISCOUNT = 0.95  # of the episode return the original reports
PROMPT_CHARS = 1024
_WALK_ROOMS = tuple(Action("walk", room) for room in ROOMS)  # living room, kitchen, bathroom, bedroom


class VirtualHomeEnv(gym.Env):
    """A household task: the house's actions, a 0/1 observation vector, reward 1 on success.

    Subclasses give the task: its ``actions`` (aligned with ``action_texts``), the objects it moves,
    ``fields`` of the observation, the prompt function and the success test.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}
    actions: tuple[Action, ...]
    action_texts: tuple[str, ...]
    movables: tuple[str, ...]
    fields: tuple[str, ...]
    describe: Callable[[np.ndarray], tuple[str, tuple[int, ...]]]

    def __init__(self, max_steps: int = MAX_STEPS, obs_mode: str = "vector", render_mode: str | None = None) -> None:
        self.max_steps = positive_int("max_steps", max_steps, "steps per episode")
        self.obs_mode = choice("obs_mode", obs_mode, ("vector", "text"))
        self.render_mode = choice("render_mode", render_mode, (None, "rgb_array"))
        self.house = House(self.movables)
        self.action_space = spaces.Discrete(len(self.actions))
        vector = spaces.Box(0.0, 1.0, (len(self.fields),), dtype=np.float32)
        self.observation_space = vector if self.obs_mode == "vector" else spaces.Dict(
            {"vector": vector, "text": spaces.Text(PROMPT_CHARS, min_length=1, charset=TEXT_CHARSET)})
        self._t, self._started, self._return = 0, False, 0.0
        self._valid: tuple[int, ...] = ()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)  # the task is deterministic: the seed changes nothing
        self.house.reset()
        self._t, self._started, self._return = 0, True, 0.0
        obs = self._observe()
        return obs, self._info(executed=True)

    def step(self, action):
        if not self._started:
            raise ResetNeeded("call reset() before step()")
        executed = self.house.execute(self.actions[action_id(action, self.action_space.n)])
        self._t += 1
        terminated = self.success()
        reward = 1.0 if terminated else 0.0
        self._return += DISCOUNT ** (self._t - 1) * reward
        truncated = not terminated and self._t >= self.max_steps
        obs = self._observe()
        info = self._info(executed)
        if terminated or truncated:
            self._started = False
            info["episode"] = {"r": self._return, "l": self._t}  # the return discounted 0.95 per step
        return obs, reward, terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """bool mask of the actions the prompt offers now (MaskablePPO reads this)."""
        mask = np.zeros(self.action_space.n, dtype=bool)
        mask[list(self._valid)] = True
        return mask

    def success(self) -> bool:
        raise NotImplementedError

    def vector(self) -> np.ndarray:
        values = self._perceive()
        return np.array([values[name] for name in self.fields], dtype=np.float32)

    def _perceive(self) -> dict[str, bool]:
        """Every field the task's vector may hold, from what the character can observe."""
        h = self.house
        seen = {name: h.observable(name) for name in (*h.movables, "microwave", "tv", "sofa", "coffeetable")}
        values = {f"in_{room}": h.room == room for room in ROOMS}
        for name in (*h.movables, "microwave", "tv", "sofa", "coffeetable"):
            values[f"see_{name}"] = seen[name]
            values[f"close_to_{name}"] = name in h.close
        for name in h.movables:
            values[f"hold_{name}"] = name in h.held
            values[f"{name}_on_coffeetable"] = seen[name] and h.on.get(name) == ("coffeetable",)
            values[f"{name}_in_microwave"] = seen[name] and h.inside.get(name) == "microwave"
        values["is_microwave_open"] = seen["microwave"] and h.microwave_open
        values["is_tv_on"] = seen["tv"] and h.tv_on
        values["is_face_tv"] = "tv" in h.facing
        values["is_sit_sofa"] = h.on_sofa
        return values

    def _observe(self) -> Any:
        vector = self.vector()
        prompt, self._valid = type(self).describe(vector)
        return vector if self.obs_mode == "vector" else {"vector": vector, "text": prompt}

    def _info(self, executed: bool) -> dict[str, Any]:
        return {"executed": executed, "success": self.success(), "action_texts": self.action_texts,
                "action_mask": self.action_masks()}

    def render(self):
        if self.render_mode == "rgb_array":
            from gym_langrearrange.twosome.render import draw_house

            return draw_house(self.house, type(self).__name__)
        return None


class FoodPreparationEnv(VirtualHomeEnv):
    """Food Preparation: put the pancake in the microwave and shut its door (10 actions)."""

    actions = (*_WALK_ROOMS, Action("walk", "pancake"), Action("walk", "microwave"), Action("grab", "pancake"),
               Action("put_in", "pancake", "microwave"), Action("open", "microwave"), Action("close", "microwave"))
    action_texts = FOOD_PREPARATION_TEXTS
    movables = ("pancake",)
    fields = FOOD_PREPARATION_FIELDS
    describe = staticmethod(describe_food_preparation)

    def success(self) -> bool:
        """In the kitchen, and the pancake out of sight: shut in the microwave."""
        return self.house.room == "kitchen" and not self.house.observable("pancake")


class EntertainmentEnv(VirtualHomeEnv):
    """Entertainment: on the sofa, facing the TV switched on, with the chips and the milk at hand (17 actions)."""

    actions = (*_WALK_ROOMS, Action("walk", "chips"), Action("walk", "milk"), Action("walk", "coffeetable"),
               Action("walk", "tv"), Action("walk", "sofa"), Action("grab", "chips"), Action("grab", "milk"),
               Action("put_on", "chips", "coffeetable"), Action("put_on", "milk", "coffeetable"),
               Action("switch_on", "tv"), Action("switch_off", "tv"), Action("sit", "sofa"), Action("stand_up"))
    action_texts = ENTERTAINMENT_TEXTS
    movables = ("chips", "milk")
    fields = ENTERTAINMENT_FIELDS
    describe = staticmethod(describe_entertainment)

    def success(self) -> bool:
        h = self.house
        at_hand = all(name in h.close or h.on.get(name) == ("coffeetable",) for name in ("chips", "milk"))
        return h.room == "livingroom" and "tv" in h.facing and h.tv_on and h.on_sofa and at_hand

