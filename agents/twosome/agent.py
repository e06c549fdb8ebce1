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


def zero_shot_agent(model: str = "smollm2-135m", normalisation: str = "word", dtype: str = "auto",
                    deterministic: str | bool = True, device: str = "auto", **_: Any) -> TwosomeAgent:
    """TWOSOME's policy before any training, for ``agents.evaluate --agent twosome-zero-shot``: its LoRA
    adapters start at zero, so it scores the skills with the base LLM (``--opt model=...,normalisation=...``)."""
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.nn.backbone import resolve_llm_dtype, tiny_llama_config
    from agents.nn.llm import load_tokenizer
    from agents.training import pick_device
    from agents.twosome.algorithm import TWOSOME
    from agents.twosome.prompts import TokenizedActions

    if isinstance(deterministic, str):
        if deterministic.lower() not in ("true", "false"):
            raise ValueError(f"deterministic must be true or false, got {deterministic!r}")
        deterministic = deterministic.lower() == "true"
    torch_device = pick_device(device)
    tiny = model == "tiny-llama"  # random weights (tests)
    tokenizer = load_tokenizer("smollm2-135m" if tiny else model)
    spaces_env = TokenizedActions(gym.make("LangRearrange-v0", render=False, obs_mode="text"), tokenizer,
                                  read=read_rearrange)  # only its spaces: the agent encodes what agents.evaluate plays
    policy_kwargs = {"normalisation": normalisation, "llm_dtype": resolve_llm_dtype(dtype, torch_device),
                     **({"model_config": tiny_llama_config()} if tiny else {"model": model})}
    algorithm = TWOSOME("TwosomePolicy", DummyVecEnv([lambda: spaces_env]), device=torch_device,
                        policy_kwargs=policy_kwargs)
    return TwosomeAgent(algorithm, name="twosome-zero-shot", deterministic=deterministic)
