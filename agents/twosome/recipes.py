"""Per-task settings of TWOSOME and of the plain-PPO baseline (shared/spec/twosome.md §6-7), by short task name."""
from __future__ import annotations

from dataclasses import dataclass

from gym_langrearrange.twosome import check_task


@dataclass(frozen=True)
class TaskRecipe:
    env_id: str
    policy_lr: float  # TWOSOME's actor (LoRA)
    value_lr: float  # TWOSOME's critic
    gamma: float
    steps: int  # decisions, summed over envs
    seed: int
    ppo_lr: float  # the plain-PPO baseline's
    ppo_gamma: float
    overcooked: bool  # macro-actions: gamma^k, a subtask reward and a full view for the baseline
    rearrange: bool = False  # Language Rearrangement (a split's episodes), not one of TWOSOME's tasks


RECIPES = {
    "tomato-salad": TaskRecipe("TWOSOME/TomatoSalad-v0", 5e-7, 1e-5, 0.99, 500_000, 1, 1e-4, 0.99, True),
    "tomato-lettuce-salad": TaskRecipe("TWOSOME/TomatoLettuceSalad-v0", 5e-7, 1e-5, 0.99, 500_000, 1, 5e-4, 0.99,
                                       True),
    "food-preparation": TaskRecipe("TWOSOME/FoodPreparation-v0", 1e-6, 5e-5, 0.95, 50_000, 10, 1e-3, 0.99, False),
    "entertainment": TaskRecipe("TWOSOME/Entertainment-v0", 1e-6, 5e-5, 0.95, 200_000, 100, 1e-3, 0.99, False),
    # ours: the household tasks' rates, the benchmark's discount, LLaRP's seed
    "langrearrange": TaskRecipe("LangRearrange-v0", 1e-6, 5e-5, 0.99, 100_000, 0, 0.0, 0.99, False, rearrange=True),
}


def recipe_of(task: str) -> TaskRecipe:
    """A task by short name (``food-preparation``) or Gymnasium id (``TWOSOME/FoodPreparation-v0``)."""
    if task in RECIPES:
        return RECIPES[task]
    by_id = {r.env_id: r for r in RECIPES.values()}
    if task in by_id:
        return by_id[check_task(task)]
    raise ValueError(f"unknown TWOSOME task {task!r}; allowed: {', '.join(RECIPES)} (or their ids)")
