"""Prompts and action texts as token arrays: what TWOSOME's policy scores, in a form SB3's buffers can hold.

:class:`TokenizedActions` wraps an environment whose observation carries a ``text`` prompt and whose
``info`` names every action (``info["action_texts"]``) and marks the valid ones
(``info["action_mask"]``), as TWOSOME's four tasks do; a ``read`` function adapts any other
environment. Each observation becomes:

    prompt_ids (Lp,)         the prompt's tokens, left-padded (the last real token is at the end)
    prompt_mask (Lp,)        1 on real tokens
    action_ids (A, La)       per action, the tokens that follow the prompt in tok(prompt + " " + text),
                             right-padded: exactly the tokens the LLM continues the prompt with
    action_token_mask (A, La)
    action_words (A,)        whitespace-separated words of each text (word normalisation)
    valid (A,)               1 for the actions the policy may choose

The token boundary is exact for any tokenizer: the action's tokens are taken from the tokenization of
the whole sequence, which must begin with the prompt's own tokens; a tokenizer that merges across
the boundary is refused with a one-line error.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable

import gymnasium as gym
import numpy as np
from gymnasium import spaces

#: (prompt, texts of every action, valid mask) from an observation and its info
Reader = Callable[[Any, dict], tuple[str, tuple[str, ...], np.ndarray]]


def read_text_task(obs: Any, info: dict) -> tuple[str, tuple[str, ...], np.ndarray]:
    """TWOSOME's tasks (``obs_mode="text"``): the prompt, ``info["action_texts"]``, ``info["action_mask"]``."""
    return obs["text"], tuple(info["action_texts"]), np.asarray(info["action_mask"], dtype=bool)


class ActionTokenizer:
    """Tokenizes (prompt, action texts) pairs once: prompts repeat, so results are kept (LRU)."""

    def __init__(self, tokenizer: Any, n_actions: int, max_prompt_tokens: int = 256, max_action_tokens: int = 16,
                 capacity: int = 4096) -> None:
        self.tokenizer, self.max_prompt_tokens, self.max_action_tokens = tokenizer, max_prompt_tokens, max_action_tokens
        vocab, lp, la, n = int(len(tokenizer)), max_prompt_tokens, max_action_tokens, n_actions
        self.observation_space = spaces.Dict({
            "prompt_ids": spaces.Box(0, vocab - 1, (lp,), dtype=np.int64),
            "prompt_mask": spaces.Box(0, 1, (lp,), dtype=np.int64),
            "action_ids": spaces.Box(0, vocab - 1, (n, la), dtype=np.int64),
            "action_token_mask": spaces.Box(0, 1, (n, la), dtype=np.int64),
            "action_words": spaces.Box(0, 10 ** 4, (n,), dtype=np.float32),
            "valid": spaces.Box(0, 1, (n,), dtype=np.int64),
        })
        self._prompts: OrderedDict[str, list[int]] = OrderedDict()
        self._actions: OrderedDict[tuple[str, str], list[int]] = OrderedDict()
        self.capacity = capacity

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])

    def prompt(self, prompt: str) -> list[int]:
        ids = self._remember(self._prompts, prompt, lambda: self._ids(prompt))
        if len(ids) > self.max_prompt_tokens:
            raise ValueError(f"the prompt has {len(ids)} tokens, more than max_prompt_tokens={self.max_prompt_tokens}: "
                             f"raise max_prompt_tokens ({prompt[:60]!r}...)")
        return ids

    def action(self, prompt: str, text: str) -> list[int]:
        """The tokens that follow the prompt's in tok(prompt + " " + text)."""
        def split() -> list[int]:
            head, whole = self.prompt(prompt), self._ids(f"{prompt} {text}")
            if whole[:len(head)] != head or len(whole) == len(head):
                raise ValueError(f"tokenizer {getattr(self.tokenizer, 'name_or_path', type(self.tokenizer).__name__)!r}: "
                                 f"the tokens of prompt + ' {text}' do not begin with the prompt's own tokens "
                                 f"(...{prompt[-20:]!r} | {text!r}), so the action's tokens cannot be told apart")
            return whole[len(head):]

        ids = self._remember(self._actions, (prompt, text), split)
        if len(ids) > self.max_action_tokens:
            raise ValueError(f"action text {text!r} has {len(ids)} tokens, more than max_action_tokens="
                             f"{self.max_action_tokens}")
        return ids

    def encode(self, prompt: str, texts: tuple[str, ...], valid: np.ndarray) -> dict[str, np.ndarray]:
        """The observation of :class:`TokenizedActions` for a prompt, every action's text and the valid mask."""
        space = self.observation_space
        n, la = space["action_ids"].shape
        if len(texts) != n or len(valid) != n:
            raise ValueError(f"the environment named {len(texts)} actions and masked {len(valid)}, "
                             f"but its action space has {n}")
        if not np.any(valid):
            raise ValueError(f"no valid action in this state (the action mask is all zeros): {prompt[:80]!r}")
        lp = space["prompt_ids"].shape[0]
        head = self.prompt(prompt)
        out = {"prompt_ids": np.zeros(lp, np.int64), "prompt_mask": np.zeros(lp, np.int64),
               "action_ids": np.zeros((n, la), np.int64), "action_token_mask": np.zeros((n, la), np.int64),
               "action_words": np.array([len(t.split()) for t in texts], np.float32),
               "valid": np.asarray(valid, np.int64)}
        out["prompt_ids"][lp - len(head):] = head
        out["prompt_mask"][lp - len(head):] = 1
        for a in np.flatnonzero(valid):  # invalid actions are never scored: no need to tokenize them
            ids = self.action(prompt, texts[a])
            out["action_ids"][a, :len(ids)] = ids
            out["action_token_mask"][a, :len(ids)] = 1
        return out

    def _remember(self, store: OrderedDict, key, compute: Callable[[], list[int]]) -> list[int]:
        if key in store:
            store.move_to_end(key)
            return store[key]
        store[key] = value = compute()
        if len(store) > self.capacity:
            store.popitem(last=False)
        return value


class TokenizedActions(gym.Wrapper):
    """The prompt and every action's text, tokenized for :class:`~agents.twosome.policy.TwosomePolicy`.

    Args:
        env: an environment with a text prompt and named actions (see :func:`read_text_task`).
        tokenizer: the LLM's tokenizer.
        read: how to get (prompt, texts, valid mask) from (obs, info); default :func:`read_text_task`.
        max_prompt_tokens, max_action_tokens: the padded widths (a longer text is an error).
    """

    def __init__(self, env: gym.Env, tokenizer: Any, read: Reader = read_text_task, max_prompt_tokens: int = 256,
                 max_action_tokens: int = 16) -> None:
        super().__init__(env)
        if not isinstance(env.action_space, spaces.Discrete):
            raise ValueError(f"TWOSOME needs a Discrete action space, got {env.action_space}")
        self.read = read
        self.tokens = ActionTokenizer(tokenizer, int(env.action_space.n), max_prompt_tokens, max_action_tokens)
        self.observation_space = self.tokens.observation_space

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return self.tokens.encode(*self.read(obs, info)), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self.tokens.encode(*self.read(obs, info)), reward, terminated, truncated, info
