"""Where an environment's episodes come from: a generated dataset split, or an episode file."""
from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

from gym_langrearrange.datasets.build import solve_episode
from gym_langrearrange.datasets.cache import load_index
from gym_langrearrange.datasets.episode import EpisodeError, EpisodeSpec, load_episodes
from gym_langrearrange.datasets.generator import DATASET_SIZES, RECIPES, check_dataset, generate_episode
from gym_langrearrange.world.scene import scene_ids


class EpisodeSource:
    """Indexable episodes with their optimal plans. Generated episodes are built on first use and memoised."""

    def __init__(self, name: str, size: int, episodes: list[tuple[EpisodeSpec, list[int]]] | None = None,
                 cache_size: int = 4096, solved: np.ndarray | None = None) -> None:
        self.name = name
        self._size = size
        self._fixed = episodes
        self._cache: OrderedDict[int, tuple[EpisodeSpec, list[int]]] = OrderedDict()
        self._cache_size = cache_size
        self._solved = solved  # rows of the episode index cache (attempt, plan length, plan)

    @classmethod
    def from_split(cls, split: str) -> "EpisodeSource":
        if not isinstance(split, str):
            raise ValueError(f"split must be a dataset name (str), got {split!r}")
        return cls(check_dataset(split), DATASET_SIZES[split], solved=load_index(split))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "EpisodeSource":
        specs = load_episodes(path, check_solvable=False)
        solved = []
        for i, spec in enumerate(specs):
            try:
                solved.append(solve_episode(spec))
            except EpisodeError as e:  # name the file and the position, as load_episodes does
                raise EpisodeError(f"episode file {str(path)!r}, episode #{i}: {e}") from None
        return cls(specs[0].split if len({s.split for s in specs}) == 1 else "custom", len(specs), solved)

    def scenes(self) -> list[int]:
        """The scene indices this source's episodes can use."""
        if self._fixed is not None:
            return sorted({spec.scene for spec, _ in self._fixed})
        return list(scene_ids(RECIPES[self.name].scenes))

    def __len__(self) -> int:
        return self._size

    def get(self, index: int) -> tuple[EpisodeSpec, list[int]]:
        if self._fixed is not None:
            return self._fixed[index]
        hit = self._cache.get(index)
        if hit is None:
            solved = None
            if self._solved is not None:
                row = self._solved[index].tolist()
                solved = (row[0], row[2:2 + row[1]])
            hit = self._cache[index] = generate_episode(self.name, index, solved)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return hit
