"""Atari games as LLaRP observes them, by the Machado et al. (2018) protocol.

``make_atari_env("pong")`` is ale-py's ``ALE/Pong-v5`` with the protocol's settings made
explicit: sticky actions (``repeat_action_probability=0.25``), the full 18-action space for
every game, frame skip 4, episodes capped at 108,000 frames, and no life-loss signal (an
episode ends at game over only). On top of it:

- **Observation** (the paper does not say; our choice): a ``Dict`` with ``rgb``, the colour frame
  resized to ``image_size`` x ``image_size`` (default 84) with bilinear filtering, and
  ``instruction``, a fixed text per game. No frame stacking: LLaRP's context window of the
  last 32 steps is its memory.
- **Instruction** (the paper does not say; our choice, an option): ``"name"`` (default) says which
  game it is and asks for points, e.g. "You are playing the Atari 2600 game Pong. Score as many
  points as you can."; ``"none"`` gives the same sentence for every game, "Score as many points
  as you can."; any other string is used as it is.
- **Rewards**: with ``clip_rewards=True`` (training) the reward is its sign, as in Mnih et al.
  (2013). The raw game score is always kept: ``info["episode"]["r"]`` at the end of an episode
  (``RecordEpisodeStatistics`` sits below the clipping) is what every report uses.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from PIL import Image

from agents.atari.scores import check_game

FRAME_SKIP = 4
STICKY_ACTIONS = 0.25
MAX_FRAMES = 108_000
NUM_ACTIONS = 18
INSTRUCTION_NONE = "Score as many points as you can."
_TITLES = {"jamesbond": "James Bond 007", "hero": "H.E.R.O.", "qbert": "Q*bert", "up_n_down": "Up'n Down",
           "ms_pacman": "Ms. Pac-Man", "montezuma_revenge": "Montezuma's Revenge", "yars_revenge": "Yars' Revenge",
           "kung_fu_master": "Kung-Fu Master", "private_eye": "Private Eye", "wizard_of_wor": "Wizard of Wor"}


def ale_id(game: str) -> str:
    """The ale-py id of a game of the score table: ``ms_pacman`` -> ``ALE/MsPacman-v5``."""
    return "ALE/" + "".join(word.capitalize() for word in check_game(game).split("_")) + "-v5"


def title(game: str) -> str:
    """The game's name as a person writes it (``"ms_pacman"`` -> ``"Ms. Pac-Man"``)."""
    return _TITLES.get(check_game(game), " ".join(w.capitalize() for w in game.split("_")))


def instruction_text(game: str, instruction: str = "name") -> str:
    if instruction == "name":
        return f"You are playing the Atari 2600 game {title(game)}. {INSTRUCTION_NONE}"
    if instruction == "none":
        return INSTRUCTION_NONE
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError(f"instruction must be 'name', 'none' or a non-empty text, got {instruction!r}")
    return instruction


class LLaRPObservation(gym.ObservationWrapper):
    """ALE frames -> ``{"rgb": uint8 (S, S, 3), "instruction": text}``."""

    def __init__(self, env: gym.Env, instruction: str, image_size: int) -> None:
        super().__init__(env)
        self.instruction, self.image_size = instruction, image_size
        self.observation_space = spaces.Dict({
            "rgb": spaces.Box(0, 255, (image_size, image_size, 3), np.uint8),
            "instruction": spaces.Text(max_length=max(len(instruction), 1), min_length=1,
                                       charset=frozenset(instruction) | frozenset(" ")),
        })

    def observation(self, frame: np.ndarray) -> dict[str, Any]:
        image = Image.fromarray(frame).resize((self.image_size, self.image_size), Image.BILINEAR)
        return {"rgb": np.asarray(image, dtype=np.uint8), "instruction": self.instruction}


def make_atari_env(game: str, image_size: int = 84, instruction: str = "name", clip_rewards: bool = False,
                   **ale_kwargs: Any) -> gym.Env:
    """One Atari game by the Machado protocol, observed as LLaRP observes (see the module docstring).

    ``ale_kwargs`` go to ``gym.make`` (e.g. ``render_mode="rgb_array"``); the protocol's own
    settings cannot be overridden here.
    """
    import ale_py

    gym.register_envs(ale_py)
    if not isinstance(image_size, int) or isinstance(image_size, bool) or image_size < 8:
        raise ValueError(f"image_size must be an int >= 8 (pixels per side), got {image_size!r}")
    protocol = {"repeat_action_probability": STICKY_ACTIONS, "full_action_space": True, "frameskip": FRAME_SKIP,
                "max_num_frames_per_episode": MAX_FRAMES}
    clash = sorted(set(ale_kwargs) & set(protocol))
    if clash:
        raise ValueError(f"{', '.join(clash)} are fixed by the Machado protocol here; allowed extras are other "
                         f"ALE options such as render_mode")
    env = gym.make(ale_id(game), obs_type="rgb", **protocol, **ale_kwargs)
    env = gym.wrappers.RecordEpisodeStatistics(env)  # the raw score, below any clipping
    if clip_rewards:
        env = gym.wrappers.TransformReward(env, lambda r: float(np.sign(r)))
    return LLaRPObservation(env, instruction_text(game, instruction), image_size)


__all__ = ["FRAME_SKIP", "STICKY_ACTIONS", "MAX_FRAMES", "NUM_ACTIONS", "ale_id", "title", "instruction_text",
           "make_atari_env", "LLaRPObservation"]
