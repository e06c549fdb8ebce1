"""Wrappers that make the environment fit tools that only accept array observations."""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class InstructionTokenizer:
    """Text -> fixed-length token ids + mask with a Hugging Face tokenizer, cached per string.

    Shared by :class:`TokenizeInstruction` and by agents that tokenize raw observations
    themselves, so both always see identical inputs.
    """

    def __init__(self, tokenizer: Any, max_tokens: int = 64) -> None:
        if not isinstance(max_tokens, int) or max_tokens <= 0:
            raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
        if not callable(tokenizer):
            raise TypeError(f"tokenizer must be a Hugging Face tokenizer (callable), got {type(tokenizer).__name__}")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        pad = getattr(tokenizer, "pad_token_id", None)
        if pad is None:
            pad = getattr(tokenizer, "eos_token_id", None)
        self.pad_id = int(pad) if pad is not None else 0
        self.vocab_size = len(tokenizer)
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """int64[max_tokens] ids (right-padded, truncated) and int8[max_tokens] mask; do not modify them."""
        hit = self._cache.get(text)
        if hit is None:
            ids = list(self.tokenizer(text, add_special_tokens=True)["input_ids"])[: self.max_tokens]
            tokens = np.full(self.max_tokens, self.pad_id, dtype=np.int64)
            tokens[: len(ids)] = ids
            mask = np.zeros(self.max_tokens, dtype=np.int8)
            mask[: len(ids)] = 1
            if len(self._cache) > 10_000:
                self._cache.clear()
            hit = self._cache[text] = (tokens, mask)
        return hit

    def transform(self, observation: dict[str, Any]) -> dict[str, Any]:
        """The observation with ``instruction`` tokenized, ``instruction_mask`` added, ``text`` dropped."""
        out = {k: v for k, v in observation.items() if k not in ("instruction", "text")}
        tokens, mask = self(observation["instruction"])
        out["instruction"] = tokens.copy()
        out["instruction_mask"] = mask.copy()
        return out


class TokenizeInstruction(gym.ObservationWrapper):
    """Replace the ``Text`` instruction by fixed-length token ids and an attention mask.

    ``obs["instruction"]`` becomes int64[max_tokens] (right-padded with the tokenizer's pad
    id, truncated past ``max_tokens``) and ``obs["instruction_mask"]`` int8[max_tokens]
    (1 for real tokens). The ``text`` observation, if any, is dropped because array-only
    libraries (SB3) cannot hold it. The instruction is constant within an episode, so its
    tokenization is cached per string.

    Args:
        env: a LangRearrange environment (or a wrapper of one).
        tokenizer: any Hugging Face tokenizer (``transformers.PreTrainedTokenizerBase``).
        max_tokens: fixed length of the token sequence.
    """

    def __init__(self, env: gym.Env, tokenizer: Any, max_tokens: int = 64) -> None:
        super().__init__(env)
        self.instruction_tokenizer = InstructionTokenizer(tokenizer, max_tokens)
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        inner = env.observation_space
        if not isinstance(inner, spaces.Dict) or "instruction" not in inner.spaces:
            raise ValueError("TokenizeInstruction needs a Dict observation space with an 'instruction' key")
        new = {k: v for k, v in inner.spaces.items() if k not in ("instruction", "text")}
        new["instruction"] = spaces.Box(0, self.instruction_tokenizer.vocab_size - 1, (max_tokens,), np.int64)
        new["instruction_mask"] = spaces.Box(0, 1, (max_tokens,), np.int8)
        self.observation_space = spaces.Dict(new)

    def tokenize(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        return self.instruction_tokenizer(text)

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        return self.instruction_tokenizer.transform(observation)


class ActionMaskObservation(gym.ObservationWrapper):
    """Add ``obs["action_mask"]`` (int8[70], 1 = the skill's precondition holds now).

    For agents that mask invalid skills inside the policy: the mask then travels with the
    observation into rollout buffers, so a PPO update scores each step under the same mask
    its rollout sampled with. (sb3-contrib's MaskablePPO asks ``env.action_masks()`` instead;
    the mask is the same.)
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        inner = env.observation_space
        if not isinstance(inner, spaces.Dict):
            raise ValueError("ActionMaskObservation needs a Dict observation space")
        n = int(env.action_space.n)
        self.observation_space = spaces.Dict({**inner.spaces, "action_mask": spaces.Box(0, 1, (n,), np.int8)})

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        return {**observation, "action_mask": self.env.unwrapped.action_masks().astype(np.int8)}
