"""TWOSOME's four tasks (Tan et al. 2024) as Gymnasium environments, registered beside LangRearrange.

    import gymnasium as gym
    import gym_langrearrange  # registers the ids
    env = gym.make("TWOSOME/FoodPreparation-v0", obs_mode="text")
    obs, info = env.reset()
    obs["text"], info["action_texts"], info["action_mask"]   # the prompt, every action's text, the valid ones

Every task gives the observation vector of the original (``obs_mode="vector"``, default) or that
vector and the prompt (``obs_mode="text"``); ``info["action_texts"]`` names every action in the
current state and ``info["action_mask"]`` (also ``env.action_masks()``) marks the valid ones.
"""
from __future__ import annotations

import gymnasium as gym

#: id -> entry point
TASKS = {
    "TWOSOME/TomatoSalad-v0": "gym_langrearrange.twosome.overcooked:TomatoSaladEnv",
    "TWOSOME/TomatoLettuceSalad-v0": "gym_langrearrange.twosome.overcooked:TomatoLettuceSaladEnv",
    "TWOSOME/FoodPreparation-v0": "gym_langrearrange.twosome.virtualhome:FoodPreparationEnv",
    "TWOSOME/Entertainment-v0": "gym_langrearrange.twosome.virtualhome:EntertainmentEnv",
}


def register_tasks() -> None:
    """Register the four ids with Gymnasium (idempotent)."""
    for env_id, entry_point in TASKS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=entry_point)


def check_task(env_id: str) -> str:
    if env_id not in TASKS:
        raise ValueError(f"unknown TWOSOME task {env_id!r}; allowed: {', '.join(TASKS)}")
    return env_id
