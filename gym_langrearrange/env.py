"""LangRearrangeEnv: the Gymnasium environment of spec §4-5.

``reset`` loads an episode (generated on the fly, or from a file) into a WorldState;
``step`` executes one of the 70 skills kinematically, then scores the new state. The
goal, subgoals and action mask only change when a skill succeeds, so they are
recomputed then and reused otherwise; the camera image comes from a renderer that
caches per-scene backgrounds.
"""
from __future__ import annotations

import math
import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ResetNeeded

from gym_langrearrange.catalog import CATEGORIES, OPENABLE, RECEPTACLE_INDEX, RECEPTACLES
from gym_langrearrange.checks import action_id, flag, integer, positive_int
from gym_langrearrange.datasets.build import make_state
from gym_langrearrange.datasets.episode import MAX_INSTRUCTION_CHARS, EpisodeSpec
from gym_langrearrange.datasets.generator import SPLITS
from gym_langrearrange.datasets.source import EpisodeSource
from gym_langrearrange.spaces import TEXT_CHARSET, LiveText
from gym_langrearrange.skills import NUM_SKILLS, SKILL_CATALOG, STOP_ID
from gym_langrearrange.world.state import NOWHERE, WorldState

MAX_STEPS = 32
REWARD_SUCCESS, REWARD_SUBGOAL, PENALTY_INVALID, PENALTY_STEP = 10.0, 5.0, 0.1, 0.01
#: arm joint angles (rad) of the resting pose and of the carrying pose
ARM_REST = np.array([1.32, 1.40, -0.20, 1.72, 0.0, 1.66, 0.0], dtype=np.float32)
ARM_HOLD = np.array([0.45, 0.75, -0.10, 1.25, 0.0, 1.10, 0.0], dtype=np.float32)
_HOLDING = (np.zeros(1, dtype=np.float32), np.ones(1, dtype=np.float32))  # is_holding, by bool
_OPENABLE_IDS = tuple(RECEPTACLE_INDEX[r] for r in OPENABLE)


class LangRearrangeEnv(gym.Env):
    """Language Rearrangement (LLaRP paper, §4): follow an instruction with 70 high-level skills.

    Args:
        split: one of the 11 dataset names (default ``"train"``).
        episodes: path to an episode JSON file (spec §9); overrides ``split``.
        image_size: side of the square RGB observation in pixels (default 256).
        render: False drops the ``rgb`` observation (and all rendering cost).
        obs_mode: ``"rgb"`` (default) or ``"text"``, which adds a ``text`` observation
            describing what the robot perceives, for text-only agents.
        hard: the harder variant (paper D.3): an invalid skill ends the episode as a
            failure and the agent must call ``stop``; success is judged at ``stop``.
        render_mode: ``"rgb_array"`` makes ``render()`` return a top-down map; ``"human"`` shows the camera,
            the map and the episode's words after every reset and step, in a window where a display
            exists and otherwise in a PNG file rewritten each time (``$GYM_LANGREARRANGE_VIEW``, default
            ``langrearrange-view.png``; see ``gym_langrearrange.render.viewer``).
        max_steps: skill steps before truncation (32 in the benchmark).

    Integers may be of any integral type (``np.int64`` too) but not bools; ``render`` and ``hard``
    must be bools. A bad argument raises ``ValueError`` naming it, its value and what is allowed.
    """

    metadata = {"render_modes": ["rgb_array", "human"], "render_fps": 2}

    def __init__(self, split: str = "train", episodes: str | os.PathLike | None = None, image_size: int = 256,
                 render: bool = True, obs_mode: str = "rgb", hard: bool = False, render_mode: str | None = None,
                 max_steps: int = MAX_STEPS) -> None:
        image_size = positive_int("image_size", image_size, "pixels per side")
        max_steps = positive_int("max_steps", max_steps, "skill steps before truncation")
        render, hard = flag("render", render), flag("hard", hard)
        if not isinstance(obs_mode, str) or obs_mode not in ("rgb", "text"):
            raise ValueError(f"obs_mode must be 'rgb' or 'text', got {obs_mode!r}")
        modes = self.metadata["render_modes"]
        if render_mode is not None and (not isinstance(render_mode, str) or render_mode not in modes):
            raise ValueError(f"render_mode must be None, 'rgb_array' or 'human', got {render_mode!r}")
        if episodes is not None:
            if not isinstance(episodes, (str, os.PathLike)):
                raise ValueError(f"episodes must be the path (str or os.PathLike) of an episode JSON file, "
                                 f"got {episodes!r} of type {type(episodes).__name__}")
            self.source = EpisodeSource.from_file(episodes)
        else:
            if not isinstance(split, str):
                raise ValueError(f"split must be a dataset name (str), one of {', '.join(SPLITS)}; got {split!r}")
            self.source = EpisodeSource.from_split(split)  # an unknown name: "unknown split ...; allowed: ..."
        self.split = self.source.name
        self.image_size = image_size
        self.render_rgb = render
        self.obs_mode = obs_mode
        self.hard = hard
        self.render_mode = render_mode
        self.max_steps = max_steps

        obs: dict[str, spaces.Space] = {}
        if self.render_rgb:
            obs["rgb"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        obs["instruction"] = LiveText(MAX_INSTRUCTION_CHARS, min_length=1, charset=TEXT_CHARSET)
        obs["arm_joints"] = spaces.Box(-math.pi, math.pi, (7,), np.float32)
        obs["is_holding"] = spaces.Box(0.0, 1.0, (1,), np.float32)
        obs["egomotion"] = spaces.Box(-np.inf, np.inf, (3,), np.float32)
        if obs_mode == "text":
            obs["text"] = LiveText(2048, min_length=1, charset=TEXT_CHARSET)
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Discrete(NUM_SKILLS)

        self._order: np.ndarray | None = None
        self._cursor = 0
        self._renderers: dict[int, Any] = {}
        self.state: WorldState | None = None
        self.episode: EpisodeSpec | None = None
        self.plan: list[int] = []  # the optimal plan from the episode start (privileged; for the oracle)
        self._done = True
        self._viewer = None  # render_mode="human"
        self._last: tuple[str, float | None] = ("", None)  # the last feedback and reward, for the human view

    # --- Gymnasium API ------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        index = self._next_index(seed, options)
        self.episode, self.plan = self.source.get(index)
        self._load(self.episode)
        info = self._info(invalid=False, action_name="", feedback=self._arrival_text())
        self._last = (info["feedback"], None)
        if self.render_mode == "human":
            self.render()
        return self._observation(), info

    def step(self, action):
        skill = self._check_action(action)
        state = self.state
        valid, feedback = SKILL_CATALOG.execute(state, skill)
        self._t += 1
        reward = -PENALTY_STEP
        if valid:
            self._frame = None
            self._mask = SKILL_CATALOG.valid_mask(state)
            self._goal_holds = self._goal(state)
            reward += REWARD_SUBGOAL * self._update_subgoals()
        else:
            reward -= PENALTY_INVALID
        if self.hard:
            terminated = skill == STOP_ID or not valid
            self._success = skill == STOP_ID and self._goal_holds
        else:
            self._success = self._goal_holds
            terminated = self._success
        if self._success:
            reward += REWARD_SUCCESS
        truncated = not terminated and self._t >= self.max_steps
        self._done = terminated or truncated
        info = self._info(not valid, SKILL_CATALOG.text(skill), feedback)
        self._last = (feedback, reward)
        if self.render_mode == "human":
            self.render()
        return self._observation(), reward, terminated, truncated, info

    def render(self):
        if self.render_mode is None:
            return None
        if self.state is None:
            raise ResetNeeded("call reset() before render()")
        if self.render_mode == "human":
            from gym_langrearrange.render.viewer import Viewer, compose_view

            self._viewer = self._viewer or Viewer()
            self._viewer.show(compose_view(self, *self._last))
            return None
        from gym_langrearrange.render import render_topdown

        return render_topdown(self.state)

    def close(self) -> None:
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None
        super().close()

    def action_masks(self) -> np.ndarray:
        """bool[70] of the skills valid now (sb3-contrib's MaskablePPO reads this)."""
        if self.state is None:
            raise ResetNeeded("call reset() before action_masks()")
        return self._mask.copy()

    def warm_up(self) -> int:
        """Draw now every camera background this env's episodes can need (one-time cost, a few seconds).

        Backgrounds are otherwise drawn on first sight (~5 ms each); call this before timing
        or when first-episode latency matters. Returns the number of views drawn.
        """
        if not self.render_rgb:
            return 0
        from gym_langrearrange.render import EgocentricRenderer
        from gym_langrearrange.world.scene import get_scene

        return sum(EgocentricRenderer(get_scene(i), self.image_size).warm_up() for i in self.source.scenes())

    def camera(self) -> np.ndarray:
        """The egocentric RGB image of the current state, at ``image_size`` (also when render=False)."""
        if self.state is None:
            raise ResetNeeded("call reset() before camera()")
        return self._camera()

    # --- episode bookkeeping -------------------------------------------------------------------

    def _next_index(self, seed: int | None, options: dict[str, Any] | None) -> int:
        if options and "episode_index" in options:
            idx = integer(options["episode_index"])
            if idx is None or not 0 <= idx < len(self.source):
                raise ValueError(f"options['episode_index'] must be an int in 0..{len(self.source) - 1}, "
                                 f"got {options['episode_index']!r}")
            return idx
        if seed is not None or self._order is None or self._cursor >= len(self._order):
            self._order = self.np_random.permutation(len(self.source))
            self._cursor = 0
        idx = int(self._order[self._cursor])
        self._cursor += 1
        return idx

    def _load(self, spec: EpisodeSpec) -> None:
        self.state = make_state(spec)
        cats = self.state.category
        self._goal = spec.goal_expr.compile(cats)
        self._subgoals = [g.compile(cats) for g in spec.subgoal_exprs]
        self._subgoal_done = [False] * len(self._subgoals)
        self._t = 0
        self._done = False
        self._frame: np.ndarray | None = None
        self._ego: tuple[tuple[float, float, float], np.ndarray] | None = None  # (pose, egomotion at it)
        self._mask = SKILL_CATALOG.valid_mask(self.state)
        self._goal_holds = self._goal(self.state)
        self._success = False
        self._update_subgoals()
        self._instruction = spec.instruction

    def _update_subgoals(self) -> int:
        new = 0
        for i, holds in enumerate(self._subgoals):
            if not self._subgoal_done[i] and holds(self.state):
                self._subgoal_done[i] = True
                new += 1
        return new

    def _check_action(self, action) -> int:
        if self.state is None:
            raise ResetNeeded("step() was called before reset(); call reset() first")
        if self._done:
            raise ResetNeeded("the episode is over (terminated or truncated); call reset() before step()")
        return action_id(action, NUM_SKILLS, "skill id")

    # --- observations ------------------------------------------------------------------------

    def _camera(self) -> np.ndarray:
        if self._frame is None:
            renderer = self._renderers.get(self.state.scene.index)
            if renderer is None:
                from gym_langrearrange.render import EgocentricRenderer

                if len(self._renderers) >= 16:  # keep memory bounded across many scenes
                    self._renderers.pop(next(iter(self._renderers)))
                renderer = self._renderers[self.state.scene.index] = EgocentricRenderer(self.state.scene,
                                                                                        self.image_size)
            self._frame = renderer.render_shared(self.state)  # read-only; every observation gets a copy
        return self._frame.copy()

    def _observation(self) -> dict[str, Any]:
        state = self.state
        obs: dict[str, Any] = {}
        if self.render_rgb:
            obs["rgb"] = self._camera()
        obs["instruction"] = self._instruction
        holding = state.held >= 0
        obs["arm_joints"] = (ARM_HOLD if holding else ARM_REST).copy()
        obs["is_holding"] = _HOLDING[holding].copy()
        if self._ego is None or self._ego[0] is not state.pose:  # the pose only changes by navigating
            self._ego = (state.pose, self._egomotion())
        obs["egomotion"] = self._ego[1].copy()
        if self.obs_mode == "text":
            obs["text"] = self.describe()
        return obs

    def _egomotion(self) -> np.ndarray:
        x0, y0, h0 = self.state.start_pose
        x, y, h = self.state.pose
        dx, dy = x - x0, y - y0
        c, s = math.cos(h0), math.sin(h0)
        dh = (h - h0 + math.pi) % (2 * math.pi) - math.pi
        return np.array([c * dx + s * dy, -s * dx + c * dy, dh], dtype=np.float32)

    def describe(self) -> str:
        """What the robot perceives, in words (the ``text`` observation)."""
        state = self.state
        parts = []
        r = state.robot_at
        if r == NOWHERE:
            parts.append("You are in the middle of the room, not at any receptacle.")
        else:
            parts.append(f"You are at the {RECEPTACLES[r]}.")
            if r in _OPENABLE_IDS:
                parts.append(f"The {RECEPTACLES[r]} is {'open' if state.opened[r] else 'closed'}.")
            if state.visible(r):
                seen = [CATEGORIES[state.category[o]] for o in state.objects_at(r)]
                parts.append(f"You see: {', '.join(seen)}." if seen else "You see no objects here.")
        if state.held >= 0:
            parts.append(f"You are holding the {CATEGORIES[state.category[state.held]]}.")
        else:
            parts.append("Your gripper is empty.")
        return " ".join(parts)

    def _arrival_text(self) -> str:
        return "You are in a new house. " + self.describe()

    def _info(self, invalid: bool, action_name: str, feedback: str) -> dict[str, Any]:
        return {
            "success": self._success, "subgoals_done": sum(self._subgoal_done),
            "subgoals_total": len(self._subgoals), "invalid": invalid, "action_name": action_name,
            "feedback": feedback, "action_mask": self._mask.copy(), "episode_id": self.episode.episode_id,
            "split": self.split,
        }
