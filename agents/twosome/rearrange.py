"""TWOSOME on Language Rearrangement: the prompt from the ``text`` observation, the 70 skills as phrases.

The environment is used as it is (``obs_mode="text"``, ``render=False``): the instruction and what the
robot perceives make the prompt, ``info["action_mask"]`` the valid skills, and each skill is scored by
the LLM as a short English phrase (``pick(apple)`` -> "pick up the apple").
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gym_langrearrange.skills import NUM_SKILLS, SKILL_CATALOG

_VERBS = {"navigate": "go to the {}", "pick": "pick up the {}", "place": "put it on the {}", "open": "open the {}",
          "close": "close the {}"}


def skill_phrase(skill: str) -> str:
    """``navigate(sofa)`` -> "go to the sofa"; ``stop`` -> "stop"."""
    verb, _, rest = skill.partition("(")
    return _VERBS[verb].format(rest.rstrip(")")) if rest else verb


SKILL_PHRASES = tuple(skill_phrase(SKILL_CATALOG.text(i)) for i in range(NUM_SKILLS))


def read_rearrange(obs: dict[str, Any], info: dict) -> tuple[str, tuple[str, ...], np.ndarray]:
    """(prompt, the 70 skill phrases, the valid mask) of a LangRearrange step in ``obs_mode="text"``."""
    prompt = f"A robot tidies a house. Its task: {obs['instruction']} {obs['text']} The robot's next step is to"
    return prompt, SKILL_PHRASES, np.asarray(info["action_mask"], dtype=bool)
