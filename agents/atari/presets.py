"""Sweep presets: which games, methods and seeds, and how long each job trains.

A preset is a name of :data:`PRESETS` or a JSON file with the fields of :class:`Preset`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agents.atari.jobs import Job
from agents.atari.scores import ATARI_55, check_game
from agents.atari.train import METHODS
from gym_langrearrange.files import read_json


@dataclass(frozen=True)
class Preset:
    """A sweep: every game x method x seed, each trained for ``steps`` with these options."""

    name: str
    games: tuple[str, ...]
    methods: tuple[str, ...] = METHODS
    seeds: tuple[int, ...] = (0, 1)
    steps: int = 100_000_000
    envs: int = 64
    eval_episodes: int = 8
    checkpoint_every: int = 1_000_000  # steps between checkpoints: what a killed job can lose
    train_options: tuple[str, ...] = ()  # more options for agents.atari.train, e.g. ("--backbone", "tiny-llama")
    description: str = ""

    def __post_init__(self) -> None:
        for game in self.games:
            check_game(game)
        for method in self.methods:
            if method not in METHODS:
                raise ValueError(f"preset {self.name!r}: unknown method {method!r}; allowed: {', '.join(METHODS)}")
        if not self.games or not self.methods or not self.seeds:
            raise ValueError(f"preset {self.name!r} has no jobs (games, methods and seeds must be non-empty)")
        for key in ("steps", "envs", "checkpoint_every"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ValueError(f"preset {self.name!r}: {key} must be an integer >= 1, got {getattr(self, key)!r}")

    @classmethod
    def from_json(cls, path: Path) -> "Preset":
        data = read_json(path, "sweep preset")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: unknown preset field(s) {', '.join(sorted(unknown))}; allowed: "
                             f"{', '.join(cls.__dataclass_fields__)}")
        data.setdefault("name", Path(path).stem)
        for key in ("games", "methods", "seeds", "train_options"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def jobs(self) -> list[Job]:
        """Game by game, seed by seed, both methods side by side (a sweep cut short has pairs to compare)."""
        return [Job(g, m, s) for g in self.games for s in self.seeds for m in self.methods]


#: games where a short CPU budget can show learning: frequent rewards from the first episodes, low
#: random scores, and gains within ~10^5 steps in the Atari-100k literature (docs/results/atari/README.md)
CPU_GAMES = ("breakout", "boxing")

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("paper", ATARI_55, steps=100_000_000,
           description="the paper's Figure 7: 55 games x 2 methods x 2 seeds x 100M steps"),
    Preset("atari100k", ATARI_55, steps=100_000,
           description="every game at a 100k-step budget (the Atari-100k setting, for comparison)"),
    Preset("cpu", CPU_GAMES, steps=50_000, envs=16, checkpoint_every=4096,
           train_options=("--prefix-context", "cached"),
           description="2 games x 2 methods x 2 seeds x 50k steps, 16 envs, cached prefix: "
                       "~1.5 hours on 2 cores (2 workers, ~40 steps/s each)"),
    Preset("tiny", ("breakout", "asterix"), seeds=(0,), steps=32, envs=2, eval_episodes=1, checkpoint_every=16,
           train_options=("--backbone", "tiny-llama", "--n-steps", "8", "--n-minibatches", "2", "--image-size", "32"),
           description="tests: a random tiny LLM, 32 steps"),
)}


def load_preset(name_or_file: str) -> Preset:
    if name_or_file in PRESETS:
        return PRESETS[name_or_file]
    if name_or_file.endswith(".json") and Path(name_or_file).is_file():
        return Preset.from_json(Path(name_or_file))
    raise ValueError(f"unknown preset {name_or_file!r}; allowed: {', '.join(PRESETS)}, or a .json file")
