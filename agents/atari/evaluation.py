"""The Atari score of a trained policy: the mean raw game score over evaluation episodes (sticky actions on).

``python -m agents.atari.train`` calls :func:`score_checkpoint` once training is done and writes
``OUT/scores.json``; the sweep collects those files into the ``method,game,seed,score`` CSV that
``python -m agents.atari.report`` reads.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.atari.envs import make_atari_env
from gym_langrearrange.files import atomic_write_json, read_json
from gym_langrearrange.wrappers import TokenizeInstruction

SCORES_FILE = "scores.json"


@dataclass
class RunScores:
    """What one training run scored: the raw score of each evaluation episode and their mean."""

    game: str
    method: str
    seed: int
    steps: int  # environment steps the policy was trained for
    episodes: list[float]
    mean: float
    deterministic: bool

    @classmethod
    def read(cls, path: Path) -> "RunScores":
        data = read_json(path, "Atari scores")
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def play_episodes(model: Any, game: str, episodes: int, seed: int, tokenizer: Any, max_tokens: int,
                  image_size: int = 84, instruction: str = "name", deterministic: bool = False) -> list[float]:
    """Raw scores of ``episodes`` episodes of ``model`` (one env each, played side by side, unclipped)."""
    def make(i: int):
        def build():
            env = TokenizeInstruction(make_atari_env(game, image_size, instruction), tokenizer, max_tokens)
            env.reset(seed=seed + i)
            return env
        return build

    venv = DummyVecEnv([make(i) for i in range(episodes)])
    venv.seed(seed)
    obs, state = venv.reset(), None
    starts = np.ones(episodes, dtype=bool)
    scores: list[float | None] = [None] * episodes
    while any(s is None for s in scores):
        actions, state = model.predict(obs, state=state, episode_start=starts, deterministic=deterministic)
        obs, _, starts, infos = venv.step(actions)
        for i, (done, info) in enumerate(zip(starts, infos)):
            if done and scores[i] is None:
                scores[i] = float(info["episode"]["r"])
    venv.close()
    return [float(s) for s in scores]


def score_checkpoint(model: Any, game: str, method: str, seed: int, out: Path, episodes: int, tokenizer: Any,
                     max_tokens: int, image_size: int, instruction: str, deterministic: bool) -> RunScores:
    """Play the final policy and write ``OUT/scores.json`` (atomically); a file for the same training
    steps is kept as it is, never recomputed or overwritten."""
    path = Path(out) / SCORES_FILE
    steps = int(model.num_timesteps)
    if path.exists():
        done = RunScores.read(path)
        if done.steps == steps:
            return done
    raw = play_episodes(model, game, episodes, seed + 10_000, tokenizer, max_tokens, image_size, instruction,
                        deterministic)
    result = RunScores(game, method, seed, steps, raw, float(np.mean(raw)), deterministic)
    atomic_write_json(path, asdict(result))
    return result
