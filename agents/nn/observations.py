"""Observation keys every learned agent reads the same way."""
from __future__ import annotations

import gymnasium as gym
import numpy as np

#: proprioception of the env (joint angles, holding flag, egomotion), in this order
PROPRIO_KEYS = ("arm_joints", "is_holding", "egomotion")


def proprio_dim(observation_space: gym.spaces.Dict) -> int:
    """Total width of the proprioceptive observations present in ``observation_space``."""
    return sum(int(np.prod(observation_space[k].shape)) for k in PROPRIO_KEYS if k in observation_space.spaces)
