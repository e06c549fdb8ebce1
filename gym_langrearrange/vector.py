"""N LangRearrange environments stepped in one process, for ``gym.make_vec``.

    envs = gym.make_vec("LangRearrange-v0", num_envs=8, vectorization_mode="vector_entry_point", image_size=64)

Observations, rewards, terminations, truncations and infos are exactly those of
``vectorization_mode="sync"`` (Gymnasium's ``SyncVectorEnv`` over the same envs, next-step
autoreset: the step after an episode ends returns the next episode's first observation with
reward 0), so the two are interchangeable. What differs is the cost: every step's infos are
batched with their known types in one pass instead of key by key and env by env, and observations
are stacked without a deep copy. All envs share the process's camera backgrounds and sprites.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from gym_langrearrange.checks import positive_int
from gym_langrearrange.env import LangRearrangeEnv


class LangRearrangeVectorEnv(VectorEnv):
    """``num_envs`` :class:`LangRearrangeEnv` built with the same keyword arguments."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int, **env_kwargs: Any) -> None:
        self.num_envs = positive_int("num_envs", num_envs, "environments")
        self.envs = [LangRearrangeEnv(**env_kwargs) for _ in range(self.num_envs)]
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self._array_keys = {k for k, s in self.single_observation_space.spaces.items() if isinstance(s, spaces.Box)}
        self._autoreset = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None):
        if seed is None or isinstance(seed, (int, np.integer)):  # as SyncVectorEnv: env i gets seed + i
            seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: a list of {len(seeds)} seeds for {self.num_envs} envs; give one per env "
                                 f"or a single int")
        results = [env.reset(seed=s, options=options) for env, s in zip(self.envs, seeds)]
        self._autoreset[:] = False
        return self._batch_obs([obs for obs, _ in results]), self._batch_infos([info for _, info in results])

    def step(self, actions):
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"actions: expected shape ({self.num_envs},), one skill id per env; "
                             f"got shape {actions.shape}")
        observations, infos = [], []
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminations = np.zeros(self.num_envs, dtype=bool)
        truncations = np.zeros(self.num_envs, dtype=bool)
        for i, env in enumerate(self.envs):
            if self._autoreset[i]:  # the episode ended last step: this step starts the next one
                obs, info = env.reset()
            else:
                obs, rewards[i], terminations[i], truncations[i], info = env.step(actions[i])
            observations.append(obs)
            infos.append(info)
        self._autoreset = terminations | truncations
        return self._batch_obs(observations), rewards, terminations, truncations, self._batch_infos(infos)

    def close_extras(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()

    def _batch_obs(self, observations: list[dict[str, Any]]) -> dict[str, Any]:
        return {k: (np.stack([obs[k] for obs in observations]) if k in self._array_keys
                    else tuple(obs[k] for obs in observations)) for k in self.single_observation_space.spaces}

    def _batch_infos(self, infos: list[dict[str, Any]]) -> dict[str, Any]:
        """Every env reports every key, batched with the dtypes SyncVectorEnv gives them, plus its ``_key`` mask."""
        out: dict[str, Any] = {}
        present = np.ones(self.num_envs, dtype=bool)
        for key, first in infos[0].items():
            values = [info[key] for info in infos]
            if isinstance(first, np.ndarray):
                out[key] = np.stack(values)
            elif type(first) in (bool, int, float) or isinstance(first, np.number):
                out[key] = np.array(values, dtype=type(first))
            else:
                out[key] = np.empty(self.num_envs, dtype=object)
                out[key][:] = values
            out[f"_{key}"] = present.copy()
        return out
