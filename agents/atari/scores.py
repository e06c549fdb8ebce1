"""The Atari games and their reference scores; human-normalised scores.

``human_random_scores.csv`` (beside this file, with its citation) holds the published
random-agent and human scores of the 57 games. A score is normalised as
``(score - random) / (human - random)``: 0 is random play, 1 is the professional human.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

SCORE_TABLE = Path(__file__).with_name("human_random_scores.csv")


@dataclass(frozen=True)
class GameScores:
    """The reference scores of one game."""

    game: str
    random: float
    human: float

    def normalise(self, score: float) -> float:
        return (score - self.random) / (self.human - self.random)


@lru_cache(maxsize=None)
def reference_scores() -> dict[str, GameScores]:
    """game -> its random and human scores, for the 57 games of the table."""
    with open(SCORE_TABLE, newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {r["game"]: GameScores(r["game"], float(r["random"]), float(r["human"])) for r in rows}


#: the 57 games of the table, in its (alphabetical) order
ATARI_57: tuple[str, ...] = tuple(reference_scores())
#: the 55-game set of the comparison: the 57 less Defender and Surround. The paper does not list
#: its 55 games; this is the set that the rliable analysis of Atari results uses.
ATARI_55: tuple[str, ...] = tuple(g for g in ATARI_57 if g not in ("defender", "surround"))


def check_game(game: str) -> str:
    if game not in reference_scores():
        raise ValueError(f"unknown Atari game {game!r}; allowed: {', '.join(ATARI_57)}")
    return game


def human_normalised(game: str, score: float) -> float:
    """``(score - random) / (human - random)`` for ``game`` (a name of the table, e.g. ``"ms_pacman"``)."""
    return reference_scores()[check_game(game)].normalise(score)


__all__ = ["ATARI_55", "ATARI_57", "GameScores", "SCORE_TABLE", "check_game", "human_normalised",
           "reference_scores"]
