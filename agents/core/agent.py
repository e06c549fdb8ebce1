"""The Agent interface, and the agents every evaluation compares against.

An agent sees what a Gymnasium policy sees: the observation and ``info`` after
``reset`` and after every ``step``. ``reset`` starts an episode (recurrent state is the
agent's own business); ``act`` returns one skill id. ``episode_log`` lets an agent add
what a person would want to read afterwards (an LLM's plans, errors) to the evaluation's
per-episode record.
"""
from __future__ import annotations

import zlib
from typing import Any

import gymnasium as gym
import numpy as np

from gym_langrearrange.planner import Oracle
from gym_langrearrange.skills import NUM_SKILLS


class InfrastructureError(RuntimeError):
    """The episode could not be played for a reason outside the policy (an API endpoint that is
    down, a server that times out, a quota): raised from ``reset`` or ``act``.

    ``agents.evaluate`` records such episodes as errors, not failures: they are left out of
    success rates, retried when the run is resumed, and a run of consecutive ones stops the
    evaluation with this message as the cause.
    """


class Agent:
    """Base class of every agent. Subclasses override ``act`` and usually ``reset``."""

    name = "agent"
    #: False for blind agents: the evaluator then skips rendering the camera image
    needs_rgb = True
    #: camera size the agent expects; None = the evaluator's --image-size
    image_size: int | None = None

    def bind(self, env: gym.Env) -> None:
        """Called once per environment before its first episode (privileged agents keep ``env``)."""

    def reset(self, obs: dict[str, Any], info: dict[str, Any]) -> None:
        """A new episode starts with this observation."""

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        """The next skill id. Raise ``InfrastructureError`` when the episode cannot be played
        for reasons outside the policy (see there); any other exception is a bug."""
        raise NotImplementedError

    def episode_log(self) -> dict[str, Any]:
        """Extra, JSON-serialisable details of the episode just played."""
        return {}

    def close(self) -> None:
        """Release models, servers, connections."""


class RandomAgent(Agent):
    """Uniform over all 70 skills (``masked=True``: over the currently valid ones)."""

    needs_rgb = False

    def __init__(self, masked: bool = False, seed: int = 0) -> None:
        self.masked = masked
        self.name = "random-masked" if masked else "random"
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, obs, info) -> None:
        # seeded per episode, so results do not depend on the order episodes are played in
        self.rng = np.random.default_rng([self.seed, zlib.crc32(info["episode_id"].encode())])

    def act(self, obs, info) -> int:
        if self.masked:
            return int(self.rng.choice(np.flatnonzero(info["action_mask"])))
        return int(self.rng.integers(NUM_SKILLS))


class OracleAgent(Agent):
    """The privileged upper bound: follows the planner's shortest plan from the true state."""

    name = "oracle"
    needs_rgb = False

    def bind(self, env: gym.Env) -> None:
        self._oracle = Oracle(env)

    def act(self, obs, info) -> int:
        return self._oracle.act()


class SB3Agent(Agent):
    """Any Stable-Baselines3 / sb3-contrib model (recurrent ones included) as an Agent.

    Observations are passed through ``obs_transform`` first (e.g. a ``TokenizeInstruction``
    wrapper's ``observation``), so a model trained on wrapped envs sees the same inputs.
    """

    def __init__(self, model: Any, name: str = "sb3", deterministic: bool = True, obs_transform=None) -> None:
        self.model = model
        self.name = name
        self.deterministic = deterministic
        self.obs_transform = obs_transform
        spaces = getattr(model.observation_space, "spaces", {})
        self.needs_rgb = "rgb" in spaces
        if self.needs_rgb:
            self.image_size = int(spaces["rgb"].shape[1])  # square; (H, W, 3) or SB3's transposed (3, H, W)
        self.needs_action_mask = "action_mask" in spaces  # trained with ActionMaskObservation
        self._state = None
        self._start = np.ones((1,), dtype=bool)

    def reset(self, obs, info) -> None:
        self._state = None
        self._start = np.ones((1,), dtype=bool)

    def act(self, obs, info) -> int:
        if self.obs_transform is not None:
            obs = self.obs_transform(obs)
        if self.needs_action_mask:
            obs = {**obs, "action_mask": np.asarray(info["action_mask"], dtype=np.int8)}
        action, self._state = self.model.predict(obs, state=self._state, episode_start=self._start,
                                                 deterministic=self.deterministic)
        self._start = np.zeros((1,), dtype=bool)
        return int(np.asarray(action).reshape(-1)[0])
