"""gym_langrearrange: the Language Rearrangement benchmark as a Gymnasium environment.

    import gymnasium as gym
    import gym_langrearrange  # registers the ids
    env = gym.make("LangRearrange-v0", split="rephrasing")
    envs = gym.make_vec("LangRearrange-v0", num_envs=8, vectorization_mode="vector_entry_point")  # one process
    env = gym.make("TWOSOME/TomatoSalad-v0", obs_mode="text")   # TWOSOME's tasks, registered here too
"""
from __future__ import annotations

import gymnasium as gym

from gym_langrearrange.catalog import CATEGORIES, RECEPTACLES
from gym_langrearrange.datasets import DATASETS, EVAL_DATASETS, EpisodeSpec, load_episodes, save_episodes
from gym_langrearrange.env import LangRearrangeEnv
from gym_langrearrange.goals import GoalExpr
from gym_langrearrange.skills import SKILL_CATALOG, SkillCatalog
from gym_langrearrange.twosome import TASKS as TWOSOME_TASKS
from gym_langrearrange.twosome import register_tasks

__version__ = "0.1.0"
ENV_IDS = ("LangRearrange-v0", "LangRearrangeHard-v0")


def register_envs() -> None:
    """Register both ids and TWOSOME's four tasks with Gymnasium (idempotent; also run by the package entry point)."""
    if "LangRearrange-v0" not in gym.registry:
        gym.register("LangRearrange-v0", entry_point="gym_langrearrange.env:LangRearrangeEnv",
                     vector_entry_point="gym_langrearrange.vector:LangRearrangeVectorEnv", kwargs={"hard": False})
    if "LangRearrangeHard-v0" not in gym.registry:
        gym.register("LangRearrangeHard-v0", entry_point="gym_langrearrange.env:LangRearrangeEnv",
                     vector_entry_point="gym_langrearrange.vector:LangRearrangeVectorEnv", kwargs={"hard": True})
    register_tasks()


register_envs()

__all__ = ["CATEGORIES", "RECEPTACLES", "DATASETS", "EVAL_DATASETS", "EpisodeSpec", "load_episodes", "save_episodes",
           "LangRearrangeEnv", "GoalExpr", "SKILL_CATALOG", "SkillCatalog", "ENV_IDS", "TWOSOME_TASKS", "register_envs"]
