"""A trained TWOSOME checkpoint as an :class:`~agents.core.agent.Agent`, for ``agents.evaluate``."""
from __future__ import annotations

from typing import Any

import numpy as np

from agents.core.agent import Agent
from agents.twosome.prompts import ActionTokenizer
from agents.twosome.rearrange import read_rearrange


class TwosomeAgent(Agent):
    """Scores the valid skills of each LangRearrange step with a TWOSOME policy (actions sampled unless
    ``deterministic``); it needs the env's text observation, not its camera."""

    needs_rgb = False
    needs_text = True
    image_size = None

    def __init__(self, model: Any, name: str = "twosome", deterministic: bool = True,
                 max_prompt_tokens: int = 256, max_action_tokens: int = 16) -> None:
        self.model, self.name, self.deterministic = model, name, deterministic
        policy = model.policy
        self.tokens = ActionTokenizer(policy.tokenizer, int(policy.action_space.n), max_prompt_tokens,
                                      max_action_tokens)

    @classmethod
    def from_checkpoint(cls, model: Any, meta: dict[str, Any], options: dict[str, Any]) -> "TwosomeAgent":
        return cls(model, name=meta.get("name", "twosome"), deterministic=bool(options.get("deterministic", True)),
                   max_prompt_tokens=int(meta.get("max_prompt_tokens", 256)),
                   max_action_tokens=int(meta.get("max_action_tokens", 16)))

    def act(self, obs: dict[str, Any], info: dict[str, Any]) -> int:
        encoded = self.tokens.encode(*read_rearrange(obs, info))
        action, _ = self.model.predict(encoded, deterministic=self.deterministic)
        return int(np.asarray(action).reshape(-1)[0])
